/// CLIP's word-splitting pattern, matched by hand over Unicode scalars:
///
///     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// as `regex.findall` applies it: at each position the first alternative that matches wins, the pieces
/// are taken left to right, and whitespace between them is skipped. Input comes from `CLIPTextCleaner`
/// (already lowercased). The pattern's IGNORECASE flag still shows in two places, found by running the
/// `regex` module over every code point: "ſ" (U+017F) matches the literal "s" (so "'ſ" is one piece), and
/// U+0345 (combining ypogegrammeni, which folds to the letter ι) matches no alternative and is dropped.
enum CLIPPreTokenizer {
    private static let literals: [[Unicode.Scalar]] = [
        "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    ].map { Array($0.unicodeScalars) }

    /// The pieces of `text`, in order.
    static func pieces(_ text: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        let n = text.count
        var i = 0
        scan: while i < n {
            for literal in literals where matches(literal, in: text, at: i) {
                pieces.append(text[i..<(i + literal.count)])
                i += literal.count
                continue scan
            }
            let scalar = text[i]
            if scalar == ypogegrammeni {
                i += 1
            } else if isLetter(scalar) {
                var j = i + 1
                while j < n && text[j] != ypogegrammeni && isLetter(text[j]) { j += 1 }
                pieces.append(text[i..<j])
                i = j
            } else if isNumber(scalar) {
                pieces.append(text[i..<(i + 1)])
                i += 1
            } else if !isSpace(scalar) {
                var j = i + 1
                while j < n && text[j] != ypogegrammeni && !isSpace(text[j]) && !isLetter(text[j])
                    && !isNumber(text[j]) { j += 1 }
                pieces.append(text[i..<j])
                i = j
            } else {
                i += 1
            }
        }
        return pieces
    }

    private static func matches(_ literal: [Unicode.Scalar], in text: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + literal.count <= text.count, text[i] == literal[0] else { return false }
        for k in 1..<literal.count where !sameIgnoringCase(literal[k], text[i + k]) { return false }
        return true
    }

    /// U+0345, which the case-insensitive pattern never matches.
    private static let ypogegrammeni: Unicode.Scalar = "\u{345}"

    /// Case-insensitive equality against a lowercase ASCII pattern scalar (simple case folding: only
    /// A-Z, U+017F -> s and U+212A -> k fold into ASCII).
    private static func sameIgnoringCase(_ pattern: Unicode.Scalar, _ scalar: Unicode.Scalar) -> Bool {
        if pattern == scalar { return true }
        switch scalar.value {
        case 0x41...0x5A: return pattern.value == scalar.value + 0x20
        case 0x17F: return pattern == "s"
        case 0x212A: return pattern == "k"
        default: return false
        }
    }

    /// `\p{L}`: categories Lu, Ll, Lt, Lm, Lo.
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value | 0x20
            return v >= 0x61 && v <= 0x7A
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}`: categories Nd, Nl, No.
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x30 && scalar.value <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s`: the Unicode White_Space property.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }
}
