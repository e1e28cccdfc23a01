/// One dispatched server-sent event, as the WHATWG "event stream interpretation" rules define it.
public struct SSEEvent: Sendable, Hashable {
    /// The event type: the last `event:` field of the event, or `message` when there was none.
    public var type: String
    /// The `data:` lines of the event joined with LF (the final LF removed).
    public var data: String
    /// The last event ID in force when the event was dispatched (it persists across events).
    public var lastEventID: String

    public init(type: String = "message", data: String, lastEventID: String = "") {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
    }
}
