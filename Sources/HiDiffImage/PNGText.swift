/// Encoding and decoding of PNG text chunks (tEXt, zTXt, iTXt).
enum PNGText {
    /// Text chunks larger than this after decompression are rejected (guards against zip bombs).
    static let maxTextBytes = 64 << 20

    /// The data of an uncompressed iTXt chunk: keyword, flags, empty language and translated keyword,
    /// then the UTF-8 text.
    static func iTXtData(key: String, value: String) throws(PNGError) -> [UInt8] {
        var out = try keywordBytes(key)
        out += [0, 0, 0]          // keyword terminator, compression flag 0, compression method 0
        out += [0, 0]             // empty language tag, empty translated keyword
        let text = Array(value.utf8)
        guard !text.contains(0) else {
            throw .invalidTextChunk(key: key, reason: "the text contains a NUL character")
        }
        return out + text
    }

    /// The keyword as Latin-1 bytes, checked against the PNG rules: 1 to 79 printable Latin-1 characters,
    /// no leading, trailing or consecutive spaces.
    static func keywordBytes(_ key: String) throws(PNGError) -> [UInt8] {
        var bytes: [UInt8] = []
        for u in key.unicodeScalars {
            guard (32...126).contains(u.value) || (161...255).contains(u.value) else {
                throw .invalidTextChunk(key: key, reason: "keywords may hold only printable Latin-1 characters")
            }
            bytes.append(UInt8(u.value))
        }
        guard (1...79).contains(bytes.count) else {
            throw .invalidTextChunk(key: key, reason: "keywords must be 1 to 79 characters long")
        }
        guard bytes.first != 32, bytes.last != 32, !zip(bytes, bytes.dropFirst()).contains(where: { $0 == 32 && $1 == 32 }) else {
            throw .invalidTextChunk(key: key, reason: "keywords may not have leading, trailing or consecutive spaces")
        }
        return bytes
    }

    /// Decodes a tEXt, zTXt or iTXt chunk; nil for other chunk types.
    static func decode(_ chunk: PNGChunk, path: String) throws(PNGError) -> (key: String, value: String)? {
        let d = chunk.data
        func fail(_ reason: String) -> PNGError { .corrupt(path: path, reason: "\(chunk.type) chunk: \(reason)") }
        func latin1(_ b: ArraySlice<UInt8>) -> String {
            String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) }))
        }
        func inflate(_ b: ArraySlice<UInt8>) throws(PNGError) -> [UInt8] {
            do {
                return try Inflate.zlib(b, limit: maxTextBytes)
            } catch {
                throw fail(error.reason)
            }
        }
        guard ["tEXt", "zTXt", "iTXt"].contains(chunk.type) else { return nil }
        guard let keyEnd = d.firstIndex(of: 0) else { throw fail("keyword is not terminated") }
        let key = latin1(d[d.startIndex..<keyEnd])
        let rest = d[(keyEnd + 1)...]
        switch chunk.type {
        case "tEXt":
            return (key, latin1(rest))
        case "zTXt":
            guard rest.first == 0 else { throw fail("unknown compression method") }
            return (key, latin1(try inflate(rest.dropFirst())[...]))
        default:
            guard rest.count >= 2 else { throw fail("missing compression fields") }
            let compressed = rest[rest.startIndex], method = rest[rest.startIndex + 1]
            guard compressed <= 1, method == 0 else { throw fail("unknown compression flag or method") }
            var p = rest.startIndex + 2
            for _ in 0..<2 {      // language tag, translated keyword
                guard let end = d[p...].firstIndex(of: 0) else { throw fail("language or translated keyword is not terminated") }
                p = end + 1
            }
            let raw = compressed == 1 ? try inflate(d[p...])[...] : d[p...]
            guard let text = String(validating: raw, as: UTF8.self) else { throw fail("text is not valid UTF-8") }
            return (key, text)
        }
    }
}
