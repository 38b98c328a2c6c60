/// Why a generation request cannot run; each case names the field and the limit.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(field: String, reason: String)
    case unsupportedModel(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidRequest(field, reason): "invalid \(field): \(reason)"
        case let .unsupportedModel(path, reason): "cannot use the model at \(path): \(reason)"
        }
    }
}
