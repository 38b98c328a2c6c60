/// A small zlib (RFC 1950) / DEFLATE (RFC 1951) decoder, for compressed PNG text chunks (zTXt, iTXt).
///
/// Pixel data goes through libpng; this only exists because libpng's text API needs setjmp error
/// handling, which Swift cannot use safely. Speed is irrelevant here, correctness and bounds are not.
struct Inflate {
    struct Failure: Error { let reason: String }

    /// Decompresses a zlib stream, checking its header and Adler-32; fails beyond `limit` output bytes.
    static func zlib(_ input: ArraySlice<UInt8>, limit: Int) throws(Failure) -> [UInt8] {
        let bytes = Array(input)
        guard bytes.count >= 6 else { throw Failure(reason: "zlib stream too short") }
        let cmf = Int(bytes[0]), flg = Int(bytes[1])
        guard (cmf << 8 | flg) % 31 == 0, cmf & 0x0F == 8, cmf >> 4 <= 7 else {
            throw Failure(reason: "bad zlib header")
        }
        guard flg & 0x20 == 0 else { throw Failure(reason: "zlib preset dictionaries are not supported") }
        var s = Inflate(bytes: bytes, position: 2, limit: limit)
        try s.run()
        guard s.position + 4 <= bytes.count else { throw Failure(reason: "zlib stream ends before its checksum") }
        let p = s.position
        let stored = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
        guard stored == adler32(s.output) else { throw Failure(reason: "zlib checksum mismatch") }
        return s.output
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data {
            a = (a + UInt32(x)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    // MARK: - Decoder state

    private let bytes: [UInt8]
    private(set) var position: Int
    private let limit: Int
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0
    private(set) var output: [UInt8] = []

    private init(bytes: [UInt8], position: Int, limit: Int) {
        self.bytes = bytes
        self.position = position
        self.limit = limit
    }

    private mutating func bits(_ n: Int) throws(Failure) -> Int {
        while bitCount < n {
            guard position < bytes.count else { throw Failure(reason: "compressed data ends early") }
            bitBuffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    private mutating func emit(_ b: UInt8) throws(Failure) {
        guard output.count < limit else { throw Failure(reason: "decompressed text exceeds \(limit) bytes") }
        output.append(b)
    }

    private mutating func run() throws(Failure) {
        var last = false
        while !last {
            last = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(Self.fixedLengths, Self.fixedDistances)
            case 2:
                let (l, d) = try dynamicTables()
                try codes(l, d)
            default: throw Failure(reason: "invalid deflate block type")
            }
        }
        // The checksum starts at the next byte boundary; drop the partial byte.
        bitBuffer = 0
        bitCount = 0
    }

    private mutating func stored() throws(Failure) {
        bitBuffer = 0
        bitCount = 0
        guard position + 4 <= bytes.count else { throw Failure(reason: "compressed data ends early") }
        let len = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        let nlen = Int(bytes[position + 2]) | Int(bytes[position + 3]) << 8
        guard len == (~nlen & 0xFFFF) else { throw Failure(reason: "stored block length check failed") }
        position += 4
        guard position + len <= bytes.count else { throw Failure(reason: "compressed data ends early") }
        for i in position..<(position + len) { try emit(bytes[i]) }
        position += len
    }

    /// A canonical Huffman code: the number of codes of each length and the symbols ordered by code.
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int]

        init(lengths: [Int]) throws(Failure) {
            symbols = [Int](repeating: 0, count: lengths.count)
            for l in lengths { counts[l] += 1 }
            var left = 1
            for len in 1..<16 {
                left = left << 1 - counts[len]
                guard left >= 0 else { throw Failure(reason: "over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
            for (symbol, l) in lengths.enumerated() where l != 0 {
                symbols[offsets[l]] = symbol
                offsets[l] += 1
            }
        }
    }

    private mutating func decode(_ h: Huffman) throws(Failure) -> Int {
        var code = 0, first = 0, index = 0
        for len in 1..<16 {
            code |= try bits(1)
            let count = h.counts[len]
            if code - count < first { return h.symbols[index + (code - first)] }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw Failure(reason: "invalid Huffman code")
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                     35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                       8193, 12289, 16385, 24577]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                        7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    private static let fixedLengths = try! Huffman(lengths:
        [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112)
        + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8))
    private static let fixedDistances = try! Huffman(lengths: [Int](repeating: 5, count: 30))

    private mutating func codes(_ lengths: Huffman, _ distances: Huffman) throws(Failure) {
        while true {
            let symbol = try decode(lengths)
            if symbol < 256 {
                try emit(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let s = symbol - 257
            guard s < 29 else { throw Failure(reason: "invalid length symbol") }
            let length = try Self.lengthBase[s] + bits(Self.lengthExtra[s])
            let d = try decode(distances)
            guard d < 30 else { throw Failure(reason: "invalid distance symbol") }
            let distance = try Self.distanceBase[d] + bits(Self.distanceExtra[d])
            guard distance <= output.count else { throw Failure(reason: "distance too far back") }
            for _ in 0..<length { try emit(output[output.count - distance]) }
        }
    }

    private mutating func dynamicTables() throws(Failure) -> (Huffman, Huffman) {
        let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw Failure(reason: "bad dynamic block counts") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengths = [Int](repeating: 0, count: 19)
        for i in 0..<ncode { codeLengths[order[i]] = try bits(3) }
        let lencode = try Huffman(lengths: codeLengths)
        var lengths: [Int] = []
        while lengths.count < nlen + ndist {
            let symbol = try decode(lencode)
            switch symbol {
            case 0..<16: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw Failure(reason: "repeat with no previous length") }
                lengths += try [Int](repeating: previous, count: 3 + bits(2))
            case 17: lengths += try [Int](repeating: 0, count: 3 + bits(3))
            default: lengths += try [Int](repeating: 0, count: 11 + bits(7))
            }
        }
        guard lengths.count == nlen + ndist else { throw Failure(reason: "code lengths overrun") }
        guard lengths[256] != 0 else { throw Failure(reason: "no end-of-block code") }
        return (try Huffman(lengths: Array(lengths[..<nlen])), try Huffman(lengths: Array(lengths[nlen...])))
    }
}
