/// A diffusers config.json that this implementation cannot run faithfully.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    /// A field holds a value diffusers accepts but this port does not implement.
    case unsupported(field: String, value: String)
    /// A field's value is inconsistent (wrong list length, channels not divisible, ...).
    case invalid(field: String, reason: String)
    /// A field's value is out of the range a model can be built with (e.g. `norm_num_groups` 0, a negative
    /// layer count, a non-finite epsilon); `file` is the config file (or the component when not read from
    /// a file), `expected` what a valid value looks like.
    case outOfRange(file: String, field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .unsupported(let field, let value):
            return "config option \(field) = \(value) is not supported"
        case .invalid(let field, let reason):
            return "config field \(field) \(reason)"
        case let .outOfRange(file, field, value, expected):
            return "\(file): config field \(field) = \(value) is invalid; expected \(expected). "
                + "Fix the value in the file (or restore the model's original config)"
        }
    }
}
