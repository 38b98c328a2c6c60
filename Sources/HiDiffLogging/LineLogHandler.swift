import Foundation
import Logging

/// A swift-log handler that writes each event as one `LogLine` to standard error (one `write` per line, so
/// lines from different threads do not interleave).
public struct LineLogHandler: LogHandler {
    /// The logger's label (`hidiff.coordinator`, `hidiff.worker`, ...).
    public let label: String
    /// Text or JSON lines.
    public let format: LogFormat
    /// Events below this level are dropped.
    public var logLevel: Logger.Level
    /// Fields on every line of this logger (`worker`, `coordinator`).
    public var metadata: Logger.Metadata = [:]
    /// Fields from the task context, if any.
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    /// A handler writing to standard error.
    public init(label: String, format: LogFormat, level: Logger.Level,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(label: label, format: format, level: level, metadataProvider: metadataProvider) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// A handler passing each line (without its newline) to `write` (tests capture lines so).
    public init(label: String, format: LogFormat, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil,
                write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// One field on every line of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one line (the error, if any, as the `error` field).
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        let line = LogLine(timestamp: Date(), level: event.level, label: label, message: "\(event.message)",
                           source: event.source, metadata: merged.mapValues { "\($0)" })
        write(line.formatted(format))
    }
}
