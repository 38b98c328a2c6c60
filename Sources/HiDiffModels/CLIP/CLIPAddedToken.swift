/// A token transformers matches verbatim in the raw text before any cleanup or BPE (its "added tokens":
/// the special tokens `<|startoftext|>`, `<|endoftext|>`, and for SD 2.x the pad token `!`).
///
/// Each occurrence becomes its own id; the text between occurrences is tokenized separately. This is why
/// SD 2.x's tokenizer (pad token "!") turns "wow!!" into `wow</w>`, `!`, `!` (ids 2781, 0, 0) where SD 1.5's
/// gives `wow</w>`, `!!</w>` (2781, 748).
public struct CLIPAddedToken: Sendable, Equatable {
    /// The literal text matched.
    public var content: String
    /// The token's id.
    public var id: Int
    /// Whether the token swallows whitespace on its left.
    public var lstrip: Bool
    /// Whether the token swallows whitespace on its right.
    public var rstrip: Bool
    /// Whether the token only counts as a whole word.
    public var singleWord: Bool

    public init(content: String, id: Int, lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false) {
        self.content = content
        self.id = id
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

extension CLIPAddedToken {
    /// One piece of a text after splitting on added tokens.
    enum Segment: Equatable {
        case text([Unicode.Scalar])
        case added(CLIPAddedToken)
    }

    /// Splits `text` on occurrences of `tokens` as transformers' `PreTrainedTokenizer.tokenize` does: the
    /// leftmost occurrence first, the longest token at that position, then the lstrip/rstrip/single_word
    /// adjustments of the neighbouring pieces. Empty pieces are dropped.
    static func split(_ text: [Unicode.Scalar], on tokens: [CLIPAddedToken]) -> [Segment] {
        let candidates = tokens.map { ($0, Array($0.content.unicodeScalars)) }.filter { !$0.1.isEmpty }
        var pieces: [[Unicode.Scalar]] = []
        var start = 0
        var i = 0
        while i < text.count {
            var bestLength = 0
            for (_, scalars) in candidates where scalars.count > bestLength {
                if i + scalars.count <= text.count && text[i..<(i + scalars.count)].elementsEqual(scalars) {
                    bestLength = scalars.count
                }
            }
            if bestLength > 0 {
                if start < i { pieces.append(Array(text[start..<i])) }
                pieces.append(Array(text[i..<(i + bestLength)]))
                i += bestLength
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { pieces.append(Array(text[start...])) }

        // As in transformers, a piece is an added token when its text equals one (looked up again after
        // each adjustment), and `left`/`right` are the neighbours as they were before this token's stripping.
        let byContent = Dictionary(candidates.map { ($0.1, $0.0) }, uniquingKeysWith: { _, last in last })
        for k in pieces.indices {
            guard let token = byContent[pieces[k]] else { continue }
            let left = k > 0 ? pieces[k - 1] : []
            let right = k + 1 < pieces.count ? pieces[k + 1] : []
            if token.rstrip && !right.isEmpty {
                pieces[k + 1] = Array(right.drop(while: CLIPTextCleaner.isPythonSpace))
            }
            if token.lstrip && !left.isEmpty {
                var stripped = left
                while let last = stripped.last, CLIPTextCleaner.isPythonSpace(last) { stripped.removeLast() }
                pieces[k - 1] = stripped
            }
            if token.singleWord && !left.isEmpty && left.last != " " {
                pieces[k - 1] += pieces[k]
                pieces[k] = []
            } else if token.singleWord && !right.isEmpty && right.first != " " {
                pieces[k + 1] = pieces[k] + pieces[k + 1]
                pieces[k] = []
            }
        }
        return pieces.compactMap { piece in
            if piece.isEmpty { return nil }
            if let token = byContent[piece] { return .added(token) }
            return .text(piece)
        }
    }
}
