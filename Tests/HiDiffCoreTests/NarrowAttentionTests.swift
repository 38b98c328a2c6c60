import Foundation
import HiDiffCore
import HiDiffTestSupport
import XCTest

/// Narrow heads (at most 32 wide) take a direct kernel on AVX-512 CPUs: it must equal its scalar reference
/// bit for bit and attention in double precision to float32's rounding.
final class NarrowAttentionTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 22)
        })
    }

    // (batch, queries, keys, channels, value channels, heads, causal): the demo model's 16- and 32-wide
    // heads, 2-wide heads, partial key chunks and row blocks, a value width of its own, causal.
    let cases = [(2, 70, 300, 32, 32, 2, false), (1, 130, 130, 64, 64, 2, true), (1, 33, 17, 4, 6, 2, false),
                 (2, 65, 1000, 16, 16, 1, false), (1, 5, 77, 96, 96, 3, false)]

    func testEqualsDoublePrecisionAttention() {
        for (b, lq, lk, c, cv, heads, causal) in cases {
            let q = random([b, lq, c], seed: 1) * 2, k = random([b, lk, c], seed: 2) * 2, v = random([b, lk, cv], seed: 3)
            let want = referenceAttention(q, k, v, heads: heads, causal: causal)
            for unit in [VectorUnit.portable, VectorUnit.detected] {
                let got = Tensor.narrowAttention(query: q, key: k, value: v, heads: heads, causal: causal, unit: unit)
                let worst = zip(got.data, want).map { abs(Double($0) - $1) }.max()!
                // Scores reach about 20 here: float32's rounding of a score (2^-23 x 20) moves its exponential
                // by 2.4e-6 relative; outputs are at most 2.
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(unit) \(b)x\(lq)x\(lk) c\(c) h\(heads) causal \(causal)")
            }
        }
    }

    func testVectorUnitEqualsTheScalarReferenceBitForBit() throws {
        try XCTSkipUnless(VectorUnit.detected == .avx512,
                          "the narrow kernel has an AVX-512 form only; this CPU runs the tiled products")
        for (b, lq, lk, c, cv, heads, causal) in cases {
            let q = random([b, lq, c], seed: 4), k = random([b, lk, c], seed: 5), v = random([b, lk, cv], seed: 6)
            for precision in [Precision.fp32, .bf16] {
                let vector = Tensor.narrowAttention(query: q, key: k, value: v, heads: heads, causal: causal,
                                                    precision: precision, unit: .avx512)
                let scalar = Tensor.narrowAttention(query: q, key: k, value: v, heads: heads, causal: causal,
                                                    precision: precision, unit: .portable)
                XCTAssertEqual(zip(vector.data, scalar.data).filter { $0.bitPattern != $1.bitPattern }.count, 0,
                               "\(precision) \(b)x\(lq)x\(lk) c\(c) h\(heads) causal \(causal)")
            }
        }
    }

    /// bfloat16: within the weights' rounding (2^-9 max|V|) of float32 attention of the rounded inputs,
    /// the bound the tiled bfloat16 path meets.
    func testBFloat16IsWithinTheWeightRounding() {
        for (b, lq, lk, c, cv, heads, causal) in cases {
            let q = random([b, lq, c], seed: 7) * 3, k = random([b, lk, c], seed: 8) * 3, v = random([b, lk, cv], seed: 9)
            let got = Tensor.narrowAttention(query: q, key: k, value: v, heads: heads, causal: causal, precision: .bf16)
            let want = referenceAttention(q.roundedToBFloat16(), k.roundedToBFloat16(), v.roundedToBFloat16(), heads: heads,
                                 causal: causal)
            let bound = Double(0x1p-9) * Double(v.data.map(abs).max()!) * 1.05 + 1e-5
            let worst = zip(got.data, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, bound, "\(b)x\(lq)x\(lk) c\(c) h\(heads) causal \(causal)")
        }
    }
}
