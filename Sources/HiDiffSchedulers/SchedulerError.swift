/// Why a scheduler could not be built from a configuration.
public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    /// `_class_name` names a scheduler hidiff does not implement and no kind was chosen explicitly.
    case unknownClass(String?)
    /// A configuration field holds a value the chosen scheduler does not implement.
    case unsupported(scheduler: String, field: String, value: String)
    /// A field holds a value diffusers itself rejects.
    case invalid(scheduler: String, field: String, value: String, expected: String)
    /// The requested number of inference steps cannot be used with this configuration.
    case invalidSteps(scheduler: String, steps: Int, reason: String)
    /// A field of the configuration file is out of the range any scheduler can be built with (`file` is the
    /// config file, or "scheduler config" when it was not read from a file).
    case outOfRange(file: String, field: String, value: String, expected: String)
    /// The configuration file could not be read or decoded.
    case unreadableConfig(path: String, reason: String)
    /// A saved `SchedulerState` cannot be restored into this scheduler (wrong entries, counts out of range,
    /// history inconsistent with its counters).
    case invalidState(scheduler: String, reason: String)

    public var description: String {
        switch self {
        case .unknownClass(let name):
            let known = SchedulerKind.allCases.map { "\($0.className) (\($0.rawValue))" }.joined(separator: ", ")
            return "scheduler config: _class_name \(name.map { "'\($0)'" } ?? "missing") is not supported; "
                + "choose one of \(known)"
        case let .unsupported(scheduler, field, value):
            return "\(scheduler): \(field) = \(value) is not supported by hidiff"
        case let .invalid(scheduler, field, value, expected):
            return "\(scheduler): \(field) = \(value) is invalid; expected \(expected)"
        case let .invalidSteps(scheduler, steps, reason):
            return "\(scheduler): \(steps) inference steps: \(reason)"
        case let .outOfRange(file, field, value, expected):
            return "\(file): scheduler config field \(field) = \(value) is invalid; expected \(expected). "
                + "Fix the value in the file (or restore the model's original scheduler_config.json)"
        case let .unreadableConfig(path, reason):
            return "scheduler config \(path): \(reason)"
        case let .invalidState(scheduler, reason):
            return "\(scheduler): cannot restore the saved state: \(reason)"
        }
    }
}
