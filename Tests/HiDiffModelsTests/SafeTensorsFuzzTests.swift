import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Bounded, deterministic fuzzing of the safetensors parser (checkpoints and the cluster's latents and
/// checkpoints arrive as such bytes): random mutations of a valid file parse and load or throw, never trap.
final class SafeTensorsFuzzTests: XCTestCase {
    static let iterations = 4_000

    func testMutatedFilesParseOrThrow() throws {
        let valid = try SafeTensorsWriter.serialize(
            [("a", Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])), ("b.weight", Tensor(zeros: [4])), ("c", Tensor(zeros: [1, 1, 2, 2]))],
            metadata: ["format": "pt"])
        var rng = JSONMutator(seed: 0xF00D)  // its SplitMix64 stream drives the byte mutations too
        var parsed = 0, refused = 0
        for _ in 0..<Self.iterations {
            var bytes = valid
            for _ in 0..<(1 + rng.next() % 4) {
                let position = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 6 {
                case 0: bytes[position] ^= UInt8(1 << (rng.next() % 8))                       // flip a bit
                case 1: bytes[position] = UInt8(truncatingIfNeeded: rng.next())               // any byte
                case 2: bytes.removeLast(min(bytes.count - 1, Int(rng.next() % 64)))          // truncate
                case 3: bytes.insert(contentsOf: [UInt8](repeating: 0x7b, count: Int(rng.next() % 16)), at: position)
                case 4: bytes.replaceSubrange(0..<8, with: Self.littleEndian(rng.next() % UInt64(2 * bytes.count)))  // header length
                default: bytes[position] = [0x22, 0x5b, 0x5d, 0x7d, 0x3a, 0x2c, 0x2d, 0x39][Int(rng.next() % 8)]  // JSON punctuation
                }
            }
            do {
                let file = try SafeTensorsFile(bytes: bytes)
                for name in file.names { _ = try file.load(name) }
                parsed += 1
            } catch {
                refused += 1
            }
        }
        XCTAssertEqual(parsed + refused, Self.iterations)
        XCTAssertGreaterThan(refused, Self.iterations / 2, "most mutations break the file")
        print("safetensors fuzz: \(parsed) parsed, \(refused) refused")
    }

    static func littleEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
