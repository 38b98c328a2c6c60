/// Why a saved generator state cannot be restored.
public enum TorchGeneratorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The state is not one a `TorchGenerator` can be in (the reason names the field).
    case invalidState(reason: String)

    public var description: String {
        switch self {
        case let .invalidState(reason): "invalid random generator state: \(reason)"
        }
    }
}
