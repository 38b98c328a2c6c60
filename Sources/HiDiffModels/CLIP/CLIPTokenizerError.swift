/// Why a CLIP tokenizer folder could not be loaded.
///
/// Every case names the file involved, so a broken or mismatched tokenizer folder is easy to locate.
public enum CLIPTokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A required file (vocab.json or merges.txt) does not exist.
    case fileNotFound(path: String)
    /// A file exists but could not be read or decoded as UTF-8.
    case unreadable(path: String, reason: String)
    /// A file was read but its content is not what the tokenizer expects.
    case malformed(path: String, reason: String)
    /// A special token (bos, eos, unk, pad, ...) is not in the vocabulary, so it has no id.
    case tokenNotInVocabulary(token: String, role: String, file: String)
    /// The requested length cannot hold the start and end tokens.
    case maxLengthTooSmall(Int)

    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "tokenizer file not found: \(path)"
        case let .unreadable(path, reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case let .malformed(path, reason):
            return "malformed tokenizer file \(path): \(reason)"
        case let .tokenNotInVocabulary(token, role, file):
            return "\(role) '\(token)' is not in the vocabulary \(file)"
        case let .maxLengthTooSmall(length):
            return "max length \(length) cannot hold the start and end tokens (needs at least 2)"
        }
    }
}
