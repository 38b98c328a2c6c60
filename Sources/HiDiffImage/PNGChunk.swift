/// One chunk of a PNG stream, and the byte-level walking and building of chunk sequences.
///
/// Used to splice text chunks into libpng's output and to read text chunks back without libpng.
struct PNGChunk {
    /// The 4-letter chunk type, e.g. "IHDR", "iTXt".
    var type: String
    /// The chunk's data (without length, type and CRC).
    var data: ArraySlice<UInt8>
    /// Offset of the chunk's length field in the stream.
    var offset: Int

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// Whether `bytes` starts with the PNG signature.
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == signature
    }

    /// The chunks of a PNG stream up to and including IEND, with lengths and CRCs checked.
    static func parse(_ bytes: [UInt8], path: String) throws(PNGError) -> [PNGChunk] {
        guard hasSignature(bytes) else { throw .notPNG(path: path) }
        var chunks: [PNGChunk] = []
        var p = 8
        while true {
            guard p + 12 <= bytes.count else {
                throw .corrupt(path: path, reason: "the file ends inside a chunk header at byte \(p) (truncated?)")
            }
            let length = Int(readUInt32(bytes, p))
            let typeBytes = bytes[(p + 4)..<(p + 8)]
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw .corrupt(path: path, reason: "invalid chunk type at byte \(p)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF, p + 12 + length <= bytes.count else {
                throw .corrupt(path: path, reason: "chunk \(type) at byte \(p) runs past the end of the file (truncated?)")
            }
            let data = bytes[(p + 8)..<(p + 8 + length)]
            let crc = readUInt32(bytes, p + 8 + length)
            guard crc == CRC32.checksum([typeBytes, data]) else {
                throw .corrupt(path: path, reason: "CRC mismatch in chunk \(type) at byte \(p)")
            }
            chunks.append(PNGChunk(type: type, data: data, offset: p))
            p += 12 + length
            if type == "IEND" { return chunks }
        }
    }

    /// The encoded chunk: length, type, data, CRC.
    static func encode(type: String, data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4, "chunk type must be 4 letters: \(type)")
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 12)
        appendUInt32(&out, UInt32(data.count))
        out += typeBytes
        out += data
        appendUInt32(&out, CRC32.checksum([typeBytes[...], data[...]]))
        return out
    }

    static func readUInt32(_ b: [UInt8], _ p: Int) -> UInt32 {
        UInt32(b[p]) << 24 | UInt32(b[p + 1]) << 16 | UInt32(b[p + 2]) << 8 | UInt32(b[p + 3])
    }

    static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
