/// Why a denoising checkpoint cannot be read, or cannot resume the request it was given with.
public enum DenoiseCheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The bytes are not a readable blob: truncated, garbage, not safetensors.
    case unreadable(reason: String)
    /// A readable safetensors blob that is not a denoising checkpoint, or of a format version this engine
    /// does not read.
    case unsupportedFormat(reason: String)
    /// The checkpoint is damaged or inconsistent: checksum, a field, a tensor, the generator or the
    /// scheduler state.
    case corrupt(reason: String)
    /// The checkpoint was made for another job: the field, its value in the checkpoint and in the request.
    case mismatch(field: String, checkpoint: String, request: String)

    public var description: String {
        switch self {
        case let .unreadable(reason): "unreadable denoising checkpoint: \(reason)"
        case let .unsupportedFormat(reason): "not a supported denoising checkpoint: \(reason)"
        case let .corrupt(reason): "corrupt denoising checkpoint: \(reason)"
        case let .mismatch(field, checkpoint, request):
            "the checkpoint was made for another job: \(field) is \(checkpoint) in the checkpoint, \(request) in the request"
        }
    }
}
