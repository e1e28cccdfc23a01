/// A kind of input a task carries and a model may accept.
///
/// Plain text is always present; a task with image, audio, video or document attachments can only go to a
/// model whose ``ModelCapabilities/inputModalities`` hold every kind it carries.
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
