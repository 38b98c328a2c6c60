/// A fast reader for vocab.json, a flat JSON object of string keys and integer values (~50k entries,
/// where Foundation's JSON decoders take half a second).
///
/// It handles every JSON string escape; anything else (nested values, non-integers) makes it return nil
/// so the caller can let `JSONDecoder` produce the precise error.
enum CLIPVocabularyParser {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> [String: Int]? {
        var p = 0
        let n = bytes.count
        func skipSpace() {
            while p < n, bytes[p] == 0x20 || bytes[p] == 0x0A || bytes[p] == 0x0D || bytes[p] == 0x09 { p += 1 }
        }
        func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard p < n, bytes[p] == byte else { return false }
            p += 1
            return true
        }
        if n >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { p = 3 }  // UTF-8 BOM
        guard expect(0x7B) else { return nil }  // {
        var result: [String: Int] = [:]
        result.reserveCapacity(n / 16)
        skipSpace()
        if p < n, bytes[p] == 0x7D { p += 1; return trailingSpaceOnly() ? result : nil }
        while true {
            guard expect(0x22), let key = string() else { return nil }
            guard expect(0x3A), let value = integer() else { return nil }  // :
            result[key] = value
            skipSpace()
            guard p < n else { return nil }
            if bytes[p] == 0x2C { p += 1; continue }  // ,
            if bytes[p] == 0x7D { p += 1; break }  // }
            return nil
        }
        return trailingSpaceOnly() ? result : nil

        func trailingSpaceOnly() -> Bool {
            skipSpace()
            return p == n
        }

        // After the opening quote; leaves p after the closing quote.
        func string() -> String? {
            let start = p
            var escaped = false
            while p < n, bytes[p] != 0x22 {
                if bytes[p] == 0x5C { escaped = true; p += 2 } else { p += 1 }
            }
            guard p < n else { return nil }
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<p])
            p += 1
            return escaped ? unescape(raw) : String(decoding: raw, as: UTF8.self)
        }

        func integer() -> Int? {
            skipSpace()
            var negative = false
            if p < n, bytes[p] == 0x2D { negative = true; p += 1 }
            let start = p
            var value = 0
            while p < n, bytes[p] >= 0x30 && bytes[p] <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(bytes[p] - 0x30))
                guard !o1 && !o2 else { return nil }
                value = s
                p += 1
            }
            guard p > start else { return nil }
            if p < n, bytes[p] == 0x2E || bytes[p] == 0x65 || bytes[p] == 0x45 { return nil }  // . e E
            return negative ? -value : value
        }
    }

    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                guard let d = Character(Unicode.Scalar(raw[k])).hexDigitValue else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.count {
            let b = raw[i]
            guard b == 0x5C else { out.append(b); i += 1; continue }
            guard i + 1 < raw.count else { return nil }
            let e = raw[i + 1]
            i += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard var code = hex4(i) else { return nil }
                i += 4
                if (0xD800..<0xDC00).contains(code), i + 6 <= raw.count, raw[i] == 0x5C, raw[i + 1] == 0x75,
                   let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                // A lone surrogate cannot be held by a Swift String.
                guard let scalar = Unicode.Scalar(code) else { return nil }
                UTF8.encode(scalar) { out.append($0) }
            default:
                return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
