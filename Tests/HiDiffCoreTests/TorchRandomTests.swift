import Foundation
import HiDiffCore
import HiDiffTestSupport
import XCTest

/// `TorchGenerator` against `torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))`
/// (torch 2.15.0, AVX2 kernel): every element's bit pattern (FNV-1a over all of them) plus the first and
/// last 16 bit patterns, for single draws and for draws continuing one generator's stream.
final class TorchRandomTests: XCTestCase {
    struct Draw: Decodable {
        let shape: [Int]
        let first: [Double]
        let sum: Double
        let bitsFirst: [UInt32]
        let bitsLast: [UInt32]
        let fnv1a64: String
        enum CodingKeys: String, CodingKey {
            case shape, first, sum
            case bitsFirst = "bits_first"
            case bitsLast = "bits_last"
            case fnv1a64
        }
    }

    struct Entry: Decodable {
        let seed: UInt64
        let single: Draw?
        let draws: [Draw]?
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            seed = try container.decode(UInt64.self, forKey: .seed)
            draws = try container.decodeIfPresent([Draw].self, forKey: .draws)
            single = draws == nil ? try Draw(from: decoder) : nil
        }
        enum Key: String, CodingKey { case seed, draws }
    }

    private func loadEntries() throws -> [Entry] {
        var dir = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
        while dir.path != "/" {
            let url = dir.appendingPathComponent("Tests/Fixtures/randn.json")
            if FileManager.default.fileExists(atPath: url.path) {
                return try JSONDecoder().decode([Entry].self, from: Data(contentsOf: url))
            }
            dir.deleteLastPathComponent()
        }
        throw FixtureError("Tests/Fixtures/randn.json not found above \(#filePath)")
    }

    private static func fnv1a64(_ t: Tensor) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in t.data {
            var bits = v.bitPattern
            for _ in 0..<4 {
                h ^= UInt64(bits & 0xff)
                h = h &* 0x100_0000_01b3
                bits >>= 8
            }
        }
        return String(h, radix: 16).leftPadded(to: 16)
    }

    private func check(_ t: Tensor, _ draw: Draw, _ label: String) {
        XCTAssertEqual(t.shape, draw.shape, "\(label): shape")
        let n = min(16, t.count)
        XCTAssertEqual(Array(t.data.prefix(n)).map(\.bitPattern), draw.bitsFirst, "\(label): first bit patterns")
        XCTAssertEqual(Array(t.data.suffix(n)).map(\.bitPattern), draw.bitsLast, "\(label): last bit patterns")
        XCTAssertEqual(Self.fnv1a64(t), draw.fnv1a64, "\(label): FNV-1a of all bit patterns")
        let sum = t.data.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(sum, draw.sum, accuracy: 1e-6 * Double(t.count), "\(label): sum")
    }

    func testBitExactAgainstTorch() throws {
        let entries = try loadEntries()
        var tensors = 0, elements = 0
        for entry in entries {
            var generator = TorchGenerator(seed: entry.seed)
            let draws = entry.draws ?? [entry.single!]
            for (k, draw) in draws.enumerated() {
                let t = generator.randn(draw.shape)
                check(t, draw, "seed \(entry.seed) draw \(k) shape \(draw.shape)")
                tensors += 1
                elements += t.count
            }
        }
        XCTAssertGreaterThanOrEqual(tensors, 15)
        print("TorchGenerator: \(tensors) tensors, \(elements) elements compared bit for bit")
    }

    /// The C++ standard pins std::mt19937 seeded with 5489: its 10000th output is 4123659995.
    func testMersenneTwisterReferenceValue() {
        var engine = MersenneTwister(seed: 5489)
        var value: UInt32 = 0
        for _ in 0..<10_000 { value = engine.next() }
        XCTAssertEqual(value, 4_123_659_995)
    }

    func testLatentSizedDrawIsFast() {
        var generator = TorchGenerator(seed: 1)
        let start = Date()
        let t = generator.randn([1, 4, 128, 128])
        XCTAssertEqual(t.count, 65536)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    }
}

private extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
