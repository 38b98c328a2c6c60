import Foundation
import Logging

/// One log event as one line: newlines in messages and values are escaped, so a line is always one event
/// (an error's multi-line description included) and `grep job=12` finds every line of that job.
///
/// text: `2026-11-30T14:26:25+0000 info hidiff.coordinator : attempt=1 job=12 worker=worker-2 [HiDiffCoordinator] assigning job`
/// (swift-log's `StreamLogHandler` layout; values with spaces, quotes or `=` are quoted).
/// json: `{"ts":"2026-11-30T14:26:25.123Z","level":"info","logger":"hidiff.coordinator","msg":"assigning job","source":"HiDiffCoordinator","attempt":"1","job":"12","worker":"worker-2"}`
/// (metadata keys at the top level, sorted; a key that collides with one of the first five gets `meta_`).
public struct LogLine: Sendable, Equatable {
    public var timestamp: Date
    public var level: Logger.Level
    /// The logger's label.
    public var label: String
    public var message: String
    /// The module that logged it.
    public var source: String
    /// Fields, rendered as strings.
    public var metadata: [String: String]

    /// One event.
    public init(timestamp: Date, level: Logger.Level, label: String, message: String, source: String,
                metadata: [String: String]) {
        self.timestamp = timestamp
        self.level = level
        self.label = label
        self.message = message
        self.source = source
        self.metadata = metadata
    }

    /// The line, without its newline.
    public func formatted(_ format: LogFormat) -> String {
        switch format {
        case .text: text
        case .json: json
        }
    }

    private var text: String {
        let fields = metadata.keys.sorted().map { "\($0)=\(Self.textValue(metadata[$0]!))" }
        let meta = fields.isEmpty ? "" : " " + fields.joined(separator: " ")
        return "\(Self.textTime(timestamp)) \(level) \(label) :\(meta) [\(source)] \(Self.escapeNewlines(message))"
    }

    private var json: String {
        let reserved = ["ts", "level", "logger", "msg", "source"]
        var parts = [("ts", Self.jsonTime(timestamp)), ("level", level.rawValue), ("logger", label),
                     ("msg", message), ("source", source)]
        for key in metadata.keys.sorted() {
            parts.append((reserved.contains(key) ? "meta_\(key)" : key, metadata[key]!))
        }
        return "{" + parts.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ",") + "}"
    }

    // MARK: Escaping

    static func escapeNewlines(_ s: String) -> String {
        guard s.contains(where: { $0 == "\n" || $0 == "\r" }) else { return s }
        return s.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func textValue(_ value: String) -> String {
        let plain = !value.isEmpty && !value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }
        if plain { return value }
        return "\"" + escapeNewlines(value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: Time

    static func textTime(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func jsonTime(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let millis = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + String(format: ".%03dZ", max(0, min(999, millis)))
    }
}
