import Foundation
import HiDiffImage
import XCTest

/// Bounded, deterministic fuzzing of the PNG reader (init images arrive from users and over the cluster):
/// random mutations of valid PNGs decode or throw, never trap or hang. Some mutations keep the chunk CRCs
/// valid, so they reach the decoder instead of stopping at the checksum.
final class PNGFuzzTests: XCTestCase {
    static let iterations = 3_000

    func testMutatedPNGsDecodeOrThrow() throws {
        let pixels = (0..<(17 * 9 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let valid = try PNGWriter.encode(RGBImage(width: 17, height: 9, pixels: pixels), textChunks: [(key: "k", value: "v")])
        var state: UInt64 = 0xBADC0DE
        func next() -> UInt64 {  // SplitMix64, so every run tries the same mutations
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var decoded = 0, refused = 0
        for i in 0..<Self.iterations {
            var bytes = valid
            for _ in 0..<(1 + next() % 3) {
                let position = 8 + Int(next() % UInt64(bytes.count - 8))
                switch next() % 4 {
                case 0: bytes[position] ^= UInt8(1 << (next() % 8))
                case 1: bytes[position] = UInt8(truncatingIfNeeded: next())
                case 2: bytes.removeLast(Int(next() % UInt64(bytes.count / 2)))
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: position)
                }
            }
            if i % 2 == 0 { bytes = Self.withValidCRCs(bytes) }
            do {
                let image = try PNGReader.read(bytes: bytes, name: "fuzz.png")
                XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 0)
        print("png fuzz: \(decoded) decoded, \(refused) refused")
    }

    /// Recomputes every complete chunk's CRC (a truncated tail is left as it is).
    static func withValidCRCs(_ png: [UInt8]) -> [UInt8] {
        var bytes = png
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            guard offset + 12 + length <= bytes.count else { break }
            let crc = RawPNG.crc32(Array(bytes[(offset + 4)..<(offset + 8 + length)]))
            bytes.replaceSubrange((offset + 8 + length)..<(offset + 12 + length), with: RawPNG.be32(crc))
            offset += 12 + length
        }
        return bytes
    }
}
