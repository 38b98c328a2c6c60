import Foundation
import HiDiffCore
import XCTest

/// Saving and restoring a `TorchGenerator` mid-stream: the restored generator continues bit for bit,
/// including torch's cached Box-Muller value and a position at the end of a Mersenne Twister block.
final class TorchGeneratorStateTests: XCTestCase {
    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    /// Draws of assorted sizes (small ones use and refill the cached normal; 624 words = one MT block).
    private let shapes: [[Int]] = [[3], [1, 4, 8, 8], [5], [624], [1], [2, 17], [7]]

    func testRestoredGeneratorContinuesTheStream() throws {
        for cut in 0...shapes.count {
            var original = TorchGenerator(seed: 42)
            for shape in shapes.prefix(cut) { _ = original.randn(shape) }
            let state = original.state
            var restored = try TorchGenerator(state: state)
            XCTAssertEqual(restored.state, state)
            for shape in shapes.suffix(from: cut) + [[9], [1, 4, 8, 8]] {
                XCTAssertEqual(bits(restored.randn(shape)), bits(original.randn(shape)), "cut \(cut) shape \(shape)")
            }
        }
    }

    func testCachedNormalIsPartOfTheState() throws {
        var g = TorchGenerator(seed: 7)
        XCTAssertNil(g.state.cachedNormal)
        _ = g.randn([1])  // one of a Box-Muller pair: the other is cached
        XCTAssertNotNil(g.state.cachedNormal)
        var withoutCache = g.state
        withoutCache.cachedNormal = nil
        var a = try TorchGenerator(state: g.state), b = try TorchGenerator(state: withoutCache)
        XCTAssertNotEqual(bits(a.randn([1])), bits(b.randn([1])))
    }

    func testWordIndexAtTheEndOfABlock() throws {
        var engine = MersenneTwister(seed: 5489)
        for _ in 0..<624 { _ = engine.next() }
        XCTAssertEqual(engine.wordIndex, 624)
        var copy = try XCTUnwrap(MersenneTwister(words: engine.words, wordIndex: engine.wordIndex))
        for _ in 0..<1000 { XCTAssertEqual(copy.next(), engine.next()) }
    }

    func testJSONRoundTripIsExact() throws {
        var g = TorchGenerator(seed: 123_456_789)
        _ = g.randn([3])  // leaves a cached normal whose decimal form would not round-trip through every encoder
        let data = try JSONEncoder().encode(g.state)
        let decoded = try JSONDecoder().decode(TorchGenerator.State.self, from: data)
        XCTAssertEqual(decoded, g.state)
        XCTAssertEqual(decoded.cachedNormal?.bitPattern, g.state.cachedNormal?.bitPattern)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("cached_normal_bits"))
    }

    func testInvalidStatesAreRejected() {
        let good = TorchGenerator(seed: 1).state
        var shortWords = good
        shortWords.words.removeLast()
        var badIndex = good
        badIndex.wordIndex = 625
        var negativeIndex = good
        negativeIndex.wordIndex = -1
        var nanCache = good
        nanCache.cachedNormal = .nan
        for (name, state) in [("words", shortWords), ("index", badIndex), ("negative", negativeIndex), ("nan", nanCache)] {
            XCTAssertThrowsError(try TorchGenerator(state: state), name) { error in
                guard case TorchGeneratorError.invalidState = error else { return XCTFail("\(name): \(error)") }
            }
        }
        XCTAssertNil(MersenneTwister(words: [1, 2, 3], wordIndex: 0))
    }
}
