/// Why a worker cannot start or run a job; each says what to change.
public enum WorkerError: Error, CustomStringConvertible, Equatable {
    case invalidModels(String)
    case unknownModel(String, known: [String])
    case overMemory(model: String, needs: Int64, limit: Int64)
    case invalidAssignment(String)

    public var description: String {
        switch self {
        case let .invalidModels(why): "invalid --models: \(why)"
        case let .unknownModel(name, known):
            "this worker has no model named \(name) (it has: \(known.joined(separator: ", ")))"
        case let .overMemory(model, needs, limit):
            "model \(model) needs about \(needs) bytes, more than this worker's --memory \(limit)"
        case let .invalidAssignment(why): "invalid assignment: \(why)"
        }
    }
}
