import HiDiffCore
import HiDiffTestSupport
import XCTest

/// bfloat16 rounding as PyTorch rounds, and oneDNN's bfloat16 products against a float64 reference of the
/// same rounded inputs.
final class BFloat16Tests: XCTestCase {
    func testRoundingIsToNearestEvenAndKeepsSpecials() {
        XCTAssertEqual(bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(bfloat16Bits(1 + 0x1p-8), 0x3F80, "a tie rounds to the even neighbour (down)")
        XCTAssertEqual(bfloat16Bits(1 + 3 * 0x1p-8), 0x3F82, "a tie rounds to the even neighbour (up)")
        XCTAssertEqual(bfloat16Bits(1 + 0x1p-8 + 0x1p-20), 0x3F81, "above the tie rounds up")
        XCTAssertEqual(bfloat16Bits(-2.5), 0xC020)
        XCTAssertEqual(bfloat16Bits(-0.0), 0x8000)
        XCTAssertEqual(bfloat16Bits(.infinity), 0x7F80)
        XCTAssertEqual(bfloat16Bits(-.infinity), 0xFF80)
        XCTAssertEqual(bfloat16Bits(.greatestFiniteMagnitude), 0x7F80, "rounds past the largest bfloat16")
        XCTAssertTrue(floatFromBFloat16(bfloat16Bits(.nan)).isNaN)
        XCTAssertTrue(floatFromBFloat16(bfloat16Bits(Float(bitPattern: 0x7F80_0001))).isNaN, "a NaN never becomes infinity")
        XCTAssertEqual(floatFromBFloat16(bfloat16Bits(0x1p-130)), 0x1p-130, "subnormals with 7 bits survive")
        // Every bfloat16 converts to a float and back to itself.
        for bits in stride(from: 0, through: 0xFFFF, by: 1) where (bits & 0x7F80) != 0x7F80 {
            XCTAssertEqual(bfloat16Bits(floatFromBFloat16(UInt16(bits))), UInt16(bits))
        }
    }

    /// oneDNN's kernels (AMX or AVX512-BF16 where the CPU has them; the test fails if oneDNN cannot run here).
    func testProductsEqualAFloat64ReferenceOfTheRoundedInputs() throws {
        let gemm = try BFloat16GEMM.shared.get()
        try checkProducts(seed: 61) { t, a, lda, b, ldb, c, ldc in
            try gemm.gemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda,
                          b: b, ldb: ldb, beta: t.beta, c: c, ldc: ldc)
        }
        print("bfloat16 GEMM through oneDNN: \(BFloat16GEMM.instructionSet), oneDNN used: \(gemm.usesOneDNN)")
    }

    /// The path for CPUs oneDNN has no bfloat16 matmul for.
    func testTheConversionFallbackEqualsTheSameReference() throws {
        try checkProducts(seed: 62) { t, a, lda, b, ldb, c, ldc in
            BFloat16GEMM.gemmByConversion(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                          a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: c, ldc: ldc)
        }
    }

    typealias Case = (m: Int, n: Int, k: Int, transA: Bool, transB: Bool, pad: Int, alpha: Float, beta: Float)

    private func checkProducts(seed: UInt64, _ gemm: (Case, UnsafePointer<UInt16>, Int, UnsafePointer<UInt16>, Int,
                                                      UnsafeMutablePointer<Float>, Int) throws -> Void) throws {
        var g = SplitMix(seed: seed)
        let cases: [Case] = [
            (1, 1, 1, false, false, 0, 1, 0), (37, 53, 29, false, false, 0, 1, 0), (64, 64, 64, true, false, 3, 1, 0),
            (17, 40, 96, false, true, 5, 1, 0), (33, 7, 300, true, true, 2, 0.125, 0), (48, 80, 64, false, true, 0, 1, 1),
            (20, 30, 40, false, false, 1, -0.5, 0.75),
        ]
        for t in cases {
            let (rowsA, colsA) = t.transA ? (t.k, t.m) : (t.m, t.k)
            let (rowsB, colsB) = t.transB ? (t.n, t.k) : (t.k, t.n)
            let lda = colsA + t.pad, ldb = colsB + t.pad, ldc = t.n + t.pad
            let a = (0..<(rowsA * lda)).map { _ in bfloat16Bits(g.next()) }
            let b = (0..<(rowsB * ldb)).map { _ in bfloat16Bits(g.next()) }
            let c0 = (0..<(t.m * ldc)).map { _ in g.next() }
            var c = c0
            try a.withUnsafeBufferPointer { pa in
                try b.withUnsafeBufferPointer { pb in
                    try c.withUnsafeMutableBufferPointer { pc in
                        try gemm(t, pa.baseAddress!, lda, pb.baseAddress!, ldb, pc.baseAddress!, ldc)
                    }
                }
            }
            var worst = 0.0
            for i in 0..<t.m {
                for j in 0..<t.n {
                    var sum = 0.0, scale = 0.0
                    for p in 0..<t.k {
                        let x = Double(floatFromBFloat16(t.transA ? a[p * lda + i] : a[i * lda + p]))
                        let y = Double(floatFromBFloat16(t.transB ? b[j * ldb + p] : b[p * ldb + j]))
                        sum += x * y
                        scale += abs(x * y)
                    }
                    let expected = Double(t.alpha) * sum + Double(t.beta) * Double(c0[i * ldc + j])
                    // float32 accumulation over k terms: a few units of float32 rounding of the sum of magnitudes.
                    worst = max(worst, abs(Double(c[i * ldc + j]) - expected) / (scale * Double(abs(t.alpha)) + 1e-30))
                }
                // Padding columns of C are left alone.
                for j in t.n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j]) }
            }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(t)")
        }
    }
}
