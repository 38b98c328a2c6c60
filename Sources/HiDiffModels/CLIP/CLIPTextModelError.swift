/// Token ids the CLIP text encoder cannot run on.
public enum CLIPTextModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No sequences, or sequences of length zero.
    case emptyInput
    /// The sequences of a batch differ in length.
    case raggedBatch(lengths: [Int])
    /// A sequence is longer than the position table.
    case sequenceTooLong(length: Int, maxPositionEmbeddings: Int)
    /// An id outside `0..<vocab_size`.
    case tokenOutOfRange(id: Int, vocabSize: Int)

    public var description: String {
        switch self {
        case .emptyInput:
            return "text encoder input is empty"
        case let .raggedBatch(lengths):
            return "text encoder batch has sequences of different lengths \(lengths)"
        case let .sequenceTooLong(length, max):
            return "token sequence of length \(length) exceeds max_position_embeddings \(max)"
        case let .tokenOutOfRange(id, vocabSize):
            return "token id \(id) is outside the vocabulary 0..<\(vocabSize)"
        }
    }
}
