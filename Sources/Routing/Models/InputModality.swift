/// A kind of input a task carries and a model may accept.
///
/// Plain text is always present; a task with image, audio, video or document attachments, or of task type
/// `image`, `audio` or `video` (``TaskType/requiredInput``), can only go to a model whose
/// ``ModelCapabilities/inputModalities`` hold every kind it needs (``RoutingTask/requiredInputs``).
public enum InputModality: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    case text, image, audio, video, document

    private var order: Int {
        switch self {
        case .text: 0
        case .image: 1
        case .audio: 2
        case .video: 3
        case .document: 4
        }
    }

    public static func < (lhs: InputModality, rhs: InputModality) -> Bool { lhs.order < rhs.order }
}

extension TaskType {
    /// The kind of input besides text a task of this type is about, which the model that serves it
    /// must take, as it must for an attached image: `image`, `audio` and `video`; `nil` for the
    /// text types. `document` has no task type of its own.
    public var requiredInput: InputModality? {
        switch self {
        case .image: return .image
        case .audio: return .audio
        case .video: return .video
        default: return nil
        }
    }
}
