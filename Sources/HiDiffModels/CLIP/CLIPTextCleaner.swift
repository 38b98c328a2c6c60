/// The text cleanup transformers' `CLIPTokenizer` applies when `ftfy` is not installed (its `BasicTokenizer`
/// with `strip_accents=False, do_split_on_punc=False`), reproduced scalar by scalar:
///
/// 1. drop U+0000, U+FFFD and "control" characters (any general category C* except tab, LF, CR), and turn
///    whitespace (tab, LF, CR, category Zs) into a space;
/// 2. put spaces around CJK ideographs;
/// 3. NFC-normalise;
/// 4. split on Python's `str.split()` whitespace;
/// 5. lowercase each word as Python's `str.lower()` does (full case mapping, final sigma).
///
/// The oracle runs Python 3.11, whose `unicodedata` is Unicode 14.0: code points assigned after 14.0 are
/// unassigned (category Cn) there and therefore dropped in step 1, whatever this toolchain's Unicode says.
enum CLIPTextCleaner {
    /// The Unicode version of the oracle's character database (Python 3.11).
    static let oracleUnicodeVersion = (major: 14, minor: 0)

    /// The cleaned, lowercased words of `text`, in order.
    static func words(_ text: some Sequence<Unicode.Scalar>) -> [[Unicode.Scalar]] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text {
            let v = scalar.value
            if v == 0 || v == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJKIdeograph(v) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        // The standard library's NFC: Foundation's `precomposedStringWithCanonicalMapping` on Linux truncates
        // supplementary-plane scalars followed by a combining mark (U+100F5 U+0304 becomes U+022D).
        let normalized = String(decoding: String(cleaned)._nfcCodeUnits, as: UTF8.self)
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in normalized.unicodeScalars {
            if isPythonSpace(scalar) {
                if !current.isEmpty { words.append(lowercased(current)) }
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(lowercased(current)) }
        return words
    }

    /// Python's `str.lower()`: full lowercase mappings, and U+03A3 becomes final sigma (U+03C2) when a
    /// cased letter precedes it and none follows (case-ignorable characters skipped), else U+03C3.
    static func lowercased(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(word.count)
        for (i, scalar) in word.enumerated() {
            let v = scalar.value
            if v < 0x80 {
                out.append((0x41...0x5A).contains(v) ? Unicode.Scalar(v + 0x20)! : scalar)
            } else if v == 0x3A3 {
                out.append(isFinalSigma(word, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// CPython's `handle_capital_sigma`.
    private static func isFinalSigma(_ word: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && word[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && word[j].properties.isCased else { return false }
        j = i + 1
        while j < word.count && word[j].properties.isCaseIgnorable { j += 1 }
        return j == word.count || !word[j].properties.isCased
    }

    /// transformers' `_is_control`, with the oracle's Unicode version for "unassigned".
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        default: break
        }
        guard let age = scalar.properties.age,
              (age.major, age.minor) <= oracleUnicodeVersion else { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// transformers' `_is_whitespace`: space, tab, LF, CR, or category Zs.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        default: return scalar.properties.generalCategory == .spaceSeparator
        }
    }

    /// Python's `str.isspace()` (what `str.split()` and `str.strip()` split on).
    static func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
             0x3000:
            return true
        default:
            return false
        }
    }

    /// BERT's "Chinese character" blocks (CJK Unified Ideographs and their extensions, compatibility
    /// ideographs).
    static func isCJKIdeograph(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v)
            || (0x2B820...0x2CEAF).contains(v) || (0xF900...0xFAFF).contains(v)
            || (0x2F800...0x2FA1F).contains(v)
    }
}
