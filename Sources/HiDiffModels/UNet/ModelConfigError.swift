/// A diffusers config.json that this implementation cannot run faithfully.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    /// A field holds a value diffusers accepts but this port does not implement.
    case unsupported(field: String, value: String)
    /// A field's value is inconsistent (wrong list length, channels not divisible, ...).
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .unsupported(let field, let value):
            return "config option \(field) = \(value) is not supported"
        case .invalid(let field, let reason):
            return "config field \(field) \(reason)"
        }
    }
}
