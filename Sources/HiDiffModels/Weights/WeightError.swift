/// Everything that can go wrong while finding, reading, checking or writing weights.
///
/// Each case names the file and, where there is one, the tensor or config field involved.
public enum WeightError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A required tensor is not in the checkpoint.
    case missing(name: String, file: String)
    /// A tensor exists but has another shape than the model needs.
    case shapeMismatch(name: String, expected: [Int], found: [Int], file: String)
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but cannot be opened, stat'ed or mapped (permissions, a directory, ...).
    case unreadable(path: String, reason: String)
    /// The file ends before the data its header describes (typically a partial download).
    case truncated(file: String, detail: String)
    /// The safetensors header is not valid (length, JSON, or structure).
    case badHeader(file: String, reason: String)
    /// The tensor's element type cannot be converted to float32.
    case unsupportedDType(name: String, dtype: String, file: String)
    /// A header entry is inconsistent (offsets, shape and dtype disagree).
    case badTensorEntry(name: String, file: String, reason: String)
    /// Two sources of one merged checkpoint both define a tensor.
    case duplicateTensor(name: String, files: [String])
    /// A JSON config (model_index.json, config.json, a shard index) is missing a field or malformed.
    case badConfig(file: String, reason: String)
    /// The folder has no model_index.json, so it is not a diffusers pipeline folder.
    case notDiffusersFolder(path: String)
    /// A diffusers component folder has none of the weight files we can read.
    case noWeightsFile(component: String, directory: String, tried: [String], hint: String?)
    /// Writing a safetensors file failed.
    case writeFailed(path: String, reason: String)
    /// A tensor holds NaN or infinite values (a corrupt or badly converted checkpoint).
    case nonFinite(name: String, file: String)

    public var description: String {
        switch self {
        case let .missing(name, file):
            return "missing tensor '\(name)' in \(file)"
        case let .shapeMismatch(name, expected, found, file):
            return "tensor '\(name)' in \(file) has shape \(found), expected \(expected)"
        case let .fileNotFound(path):
            return "file not found: \(path)"
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .truncated(file, detail):
            return "truncated safetensors file \(file): \(detail)"
        case let .badHeader(file, reason):
            return "invalid safetensors header in \(file): \(reason)"
        case let .unsupportedDType(name, dtype, file):
            return "tensor '\(name)' in \(file) has dtype \(dtype), which cannot be read as float32"
        case let .badTensorEntry(name, file, reason):
            return "invalid entry for tensor '\(name)' in \(file): \(reason)"
        case let .duplicateTensor(name, files):
            return "tensor '\(name)' is defined more than once: in \(files.joined(separator: " and "))"
        case let .badConfig(file, reason):
            return "invalid config \(file): \(reason)"
        case let .notDiffusersFolder(path):
            return "\(path) is not a diffusers model folder (no model_index.json)"
        case let .noWeightsFile(component, directory, tried, hint):
            var s = "no weights for component '\(component)' in \(directory) "
                + "(looked for \(tried.joined(separator: ", ")))"
            if let hint { s += "; \(hint)" }
            return s
        case let .writeFailed(path, reason):
            return "cannot write \(path): \(reason)"
        case let .nonFinite(name, file):
            return "tensor '\(name)' in \(file) holds NaN or infinite values: the checkpoint is corrupt or was "
                + "converted badly (re-download or re-convert it)"
        }
    }
}
