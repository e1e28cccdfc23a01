/// A non-text input attached to a task. Attachments raise the context factor and decide the
/// task type (image, audio, video) when the caller gives none.
public enum AttachmentKind: String, Sendable, Codable, CaseIterable, Hashable {
    case image, audio, video, file
}

/// Everything ``ComplexityAnalyzer`` looks at for one task.
public struct ComplexityInput: Sendable, Hashable {
    /// The task text (for a multi-turn chat, the turns joined by newlines).
    public var prompt: String
    /// Extra material sent with the prompt (documents, retrieved passages, earlier turns).
    public var context: String?
    /// The caller's task type; `nil` lets the analyzer infer one.
    public var type: TaskType?
    /// Non-text inputs sent with the task.
    public var attachments: [AttachmentKind]

    /// Creates an input; only the prompt is required.
    public init(prompt: String, context: String? = nil, type: TaskType? = nil, attachments: [AttachmentKind] = []) {
        self.prompt = prompt
        self.context = context
        self.type = type
        self.attachments = attachments
    }
}
