import Foundation
import Logging

/// Logs of the long-running commands: one line per event on stderr, at `$HIDIFF_LOG_LEVEL` (trace, debug,
/// info, notice, warning, error, critical; default info).
enum LogSetup {
    static func bootstrap() {
        let name = ProcessInfo.processInfo.environment["HIDIFF_LOG_LEVEL"]?.lowercased() ?? "info"
        let level = Logger.Level(rawValue: name) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        if Logger.Level(rawValue: name) == nil {
            Logger(label: "hidiff").warning("HIDIFF_LOG_LEVEL=\(name) is not a level (trace, debug, info, notice, warning, error, critical); using info")
        }
    }
}
