/// The real analyzer is the router's scorer.
extension ComplexityAnalyzer: ComplexityScoring {
    public func score(_ task: RoutingTask) -> ComplexityScore {
        var score = analyze(ComplexityInput(
            prompt: task.prompt,
            context: task.context,
            type: task.type,
            attachments: task.attachments.compactMap(AttachmentKind.init)
        ))
        if let input = task.estimatedInputTokens { score.estimatedInputTokens = input }
        if let output = task.estimatedOutputTokens { score.estimatedOutputTokens = output }
        return score
    }
}

extension AttachmentKind {
    /// The analyzer's kind for a router input modality; plain text is no attachment.
    init?(_ modality: InputModality) {
        switch modality {
        case .text: return nil
        case .image: self = .image
        case .audio: self = .audio
        case .video: self = .video
        case .document: self = .file
        }
    }
}
