import Foundation
import HiDiffStore

/// One server-sent event (the `text/event-stream` format of the HTML standard), as the status page's
/// `EventSource` reads it: an optional `event:` name, an optional `id:`, and the data, one `data:` line per
/// line of it, ended by a blank line.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event type (`status`, `preview`, ...); nil: the default "message".
    public var event: String?
    /// The last-event id; nil: none.
    public var id: String?
    /// The payload; newlines (LF, CR or CRLF) split it over several `data:` lines, which the client joins
    /// with LF.
    public var data: String

    public init(event: String? = nil, id: String? = nil, data: String) {
        self.event = event
        self.id = id
        self.data = data
    }

    /// The event on the wire. A CR or LF in `event` or `id` would end their field early, so they become
    /// spaces there.
    public var encoded: String {
        func field(_ text: String) -> String {
            String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
        }
        var out = ""
        if let event { out += "event: \(field(event))\n" }
        if let id { out += "id: \(field(id))\n" }
        var lines: [Substring] = []
        var rest = Substring(data)
        while let i = rest.firstIndex(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            lines.append(rest[..<i])
            rest = rest[rest.index(after: i)...]
        }
        lines.append(rest)
        for line in lines { out += "data: \(line)\n" }
        return out + "\n"
    }

    /// A comment line (`: text`), which clients ignore: keeps idle connections from timing out.
    public static func comment(_ text: String) -> String {
        ": " + String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 }) + "\n\n"
    }

    /// A preview as the status stream sends it: event `preview`, data `{job, attempt, step, steps, png}`
    /// (png in base64, keys sorted).
    public static func preview(_ preview: LivePreviews.Preview) -> ServerSentEvent {
        let object: [String: Any] = ["job": preview.jobID, "attempt": preview.attempt, "step": preview.step,
                                     "steps": preview.steps, "png": Data(preview.png).base64EncodedString()]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ServerSentEvent(event: "preview", data: String(decoding: data, as: UTF8.self))
    }
}
