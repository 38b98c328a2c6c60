import Foundation
import HiDiffLogging
import Logging

/// Logs of the long-running commands: one line per event on stderr, at `$HIDIFF_LOG_LEVEL` (trace, debug,
/// info, notice, warning, error, critical; default info), as `$HIDIFF_LOG_FORMAT` (text, the default, or
/// json). Ids go in metadata (`job`, `attempt`, `worker`, `coordinator`, `step`, `group`, `rank`), so one
/// line is one event and a job's lines are found by its id.
enum LogSetup {
    static func bootstrap() {
        let environment = ProcessInfo.processInfo.environment
        let name = environment["HIDIFF_LOG_LEVEL"]?.lowercased() ?? "info"
        let level = Logger.Level(rawValue: name) ?? .info
        let formatName = environment["HIDIFF_LOG_FORMAT"]?.lowercased() ?? "text"
        let format = LogFormat(rawValue: formatName) ?? .text
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: format, level: level)
        }
        if Logger.Level(rawValue: name) == nil {
            Logger(label: "hidiff").warning("HIDIFF_LOG_LEVEL=\(name) is not a level (trace, debug, info, notice, warning, error, critical); using info")
        }
        if LogFormat(rawValue: formatName) == nil {
            Logger(label: "hidiff").warning("HIDIFF_LOG_FORMAT=\(formatName) is not a format (text, json); using text")
        }
    }
}
