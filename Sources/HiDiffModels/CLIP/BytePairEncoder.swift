import Foundation

/// CLIP's byte-pair encoder: merges adjacent symbols of a byte-level word by merge rank until no ranked
/// pair is left, with `</w>` appended to the word's last symbol (transformers' `CLIPTokenizer.bpe`).
///
/// Results are cached per word, as transformers does; the cache is shared between copies and guarded by
/// a lock, so the encoder can be used from several threads.
struct BytePairEncoder: Sendable {
    /// An adjacent symbol pair from merges.txt.
    struct Pair: Hashable, Sendable {
        var first: String
        var second: String
    }

    /// The end-of-word marker glued to a word's last symbol.
    static let endOfWord = "</w>"

    /// Merge priority: lower merges first.
    let ranks: [Pair: Int]
    private let cache: Cache

    /// Words that bypass BPE (transformers seeds its cache with the two special tokens).
    private static let verbatim: Set<String> = ["<|startoftext|>", "<|endoftext|>"]

    init(ranks: [Pair: Int]) {
        self.ranks = ranks
        self.cache = Cache()
    }

    /// Reads merges.txt as transformers does: the whole file stripped, split into lines, line 0 (the
    /// "#version" header) skipped, at most 48894 merges kept (CLIP's 49152 - 256 - 2), each line split on
    /// whitespace. A later duplicate of a pair takes the later rank, as Python's dict does.
    init(mergesFile path: String) throws {
        let text = try CLIPTokenizerFiles.readText(path)
        var ranks: [Pair: Int] = [:]
        let maxMerges = 49152 - 256 - 2
        var utf8 = text.utf8[...]
        // Python's str.strip() on the whole file (only the leading side shifts line numbers; a trailing
        // blank tail only adds lines that cannot hold a pair).
        while let first = utf8.first, first < 0x80, CLIPTextCleaner.isPythonSpace(Unicode.Scalar(first)) {
            utf8 = utf8.dropFirst()
        }
        for (index, line) in utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if index == 0 { continue }  // the "#version" header
            if index > maxMerges { break }
            // Lines without exactly two symbols still take a rank but can never match a pair.
            guard let (first, second) = Self.twoSymbols(line) else { continue }
            ranks[Pair(first: first, second: second)] = index - 1
        }
        self.init(ranks: ranks)
    }

    /// The two whitespace-separated symbols of a merges line (Python's `str.split()`), or nil.
    private static func twoSymbols(_ line: Substring.UTF8View) -> (String, String)? {
        // Only ASCII whitespace can separate symbols unless the line holds one of the multi-byte
        // characters Python also splits on (U+0085, U+00A0, U+1680, U+2000-U+205F, U+3000): those lines
        // take the slow path.
        if mayHoldUnicodeSpace(line) {
            let parts = Substring(line).unicodeScalars.split(whereSeparator: CLIPTextCleaner.isPythonSpace)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
        let parts = line.split(whereSeparator: { $0 < 0x80 && CLIPTextCleaner.isPythonSpace(Unicode.Scalar($0)) })
        guard parts.count == 2, let a = String(parts[0]), let b = String(parts[1]) else { return nil }
        return (a, b)
    }

    /// Whether `line` holds the UTF-8 lead bytes of a non-ASCII Python whitespace character.
    private static func mayHoldUnicodeSpace(_ line: Substring.UTF8View) -> Bool {
        var previous: UInt8 = 0
        for byte in line {
            switch (previous, byte) {
            case (0xC2, 0x85), (0xC2, 0xA0), (0xE1, 0x9A), (0xE2, 0x80), (0xE2, 0x81), (0xE3, 0x80): return true
            default: previous = byte
            }
        }
        return false
    }

    /// The BPE symbols of one byte-level word (`CLIPByteAlphabet` spelling).
    func encode(_ word: String) -> [String] {
        if Self.verbatim.contains(word) { return [word] }
        if let hit = cache.get(word) { return hit }
        var symbols = word.unicodeScalars.map { String($0) }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += Self.endOfWord
        while symbols.count > 1 {
            var best: (rank: Int, pair: Pair)?
            for k in 0..<(symbols.count - 1) {
                let pair = Pair(first: symbols[k], second: symbols[k + 1])
                if let rank = ranks[pair], rank < (best?.rank ?? Int.max) { best = (rank, pair) }
            }
            guard let (_, pair) = best else { break }
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count && symbols[k] == pair.first && symbols[k + 1] == pair.second {
                    merged.append(pair.first + pair.second)
                    k += 2
                } else {
                    merged.append(symbols[k])
                    k += 1
                }
            }
            symbols = merged
        }
        cache.set(word, symbols)
        return symbols
    }

    /// A bounded, lock-protected word cache (cleared when full: prompts reuse few words).
    private final class Cache: @unchecked Sendable {
        private var entries: [String: [String]] = [:]
        private let lock = NSLock()
        private let capacity = 1 << 16

        func get(_ word: String) -> [String]? {
            lock.lock()
            defer { lock.unlock() }
            return entries[word]
        }

        func set(_ word: String, _ symbols: [String]) {
            lock.lock()
            defer { lock.unlock() }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[word] = symbols
        }
    }
}
