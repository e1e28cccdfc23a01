import Foundation

/// URLs as logs and answers may show them.
public enum URLRedaction {
    /// A URL without its user info and with its query and fragment shown as `…`: keys often ride
    /// there (`…/mcp?api_key=…`, `https://user:token@host`).
    public static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "(a URL)" }
        parts.user = nil
        parts.password = nil
        let hidden = parts.query != nil || parts.fragment != nil
        parts.query = nil
        parts.fragment = nil
        return (parts.string ?? "(a URL)") + (hidden ? "?…" : "")
    }
}
