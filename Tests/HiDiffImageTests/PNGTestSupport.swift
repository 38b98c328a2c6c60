import Foundation

/// Builds small PNG files byte by byte for the reader tests (no encoder involved): IDAT holds the rows
/// with filter type 0 in stored (uncompressed) deflate blocks.
enum RawPNG {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc32(t + data))
    }

    /// A zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, data.count - i)
            let last: UInt8 = i + n == data.count ? 1 : 0
            out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[i..<(i + n)]
            i += n
        } while i < data.count
        return out + be32(adler32(data))
    }

    /// A PNG of `rows` (raw scanline bytes, without the filter byte) with the given IHDR fields;
    /// `before` chunks go between IHDR and IDAT, `after` chunks between IDAT and IEND.
    static func make(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]],
                     before: [(String, [UInt8])] = [], after: [(String, [UInt8])] = []) -> [UInt8] {
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colorType, 0, 0, 0]
        var out: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10] + chunk("IHDR", ihdr)
        for (t, d) in before { out += chunk(t, d) }
        out += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))
        for (t, d) in after { out += chunk(t, d) }
        return out + chunk("IEND", [])
    }

    /// The chunk types and data of a PNG stream (assumes it is well formed).
    static func chunks(_ png: [UInt8]) -> [(type: String, data: [UInt8])] {
        var out: [(String, [UInt8])] = []
        var p = 8
        while p + 12 <= png.count {
            let n = Int(png[p]) << 24 | Int(png[p + 1]) << 16 | Int(png[p + 2]) << 8 | Int(png[p + 3])
            out.append((String(decoding: png[(p + 4)..<(p + 8)], as: UTF8.self), Array(png[(p + 8)..<(p + 8 + n)])))
            p += 12 + n
        }
        return out
    }
}
