/// Errors of the evaluation tools, naming the argument or file at fault.
public enum EvalError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidArgument(name: String, reason: String)

    public var description: String {
        switch self {
        case .invalidArgument(let name, let reason): return "invalid \(name): \(reason)"
        }
    }
}
