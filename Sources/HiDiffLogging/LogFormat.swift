/// How a log line is written: `text` (the swift-log stream layout, one line per event, metadata as
/// `key=value`) or `json` (one JSON object per line, for log shippers).
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}
