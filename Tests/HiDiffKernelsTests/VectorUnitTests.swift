import Foundation
import HiDiffKernels
import XCTest

/// Each vector unit this CPU has must give the scalar unit's bits exactly: the unit a machine picks may
/// change speed, never an image.
final class VectorUnitTests: XCTestCase {
    /// Lengths around every loop boundary (16-lane body, 8-lane step, scalar tail) and a long row.
    let lengths = [0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 33, 1000, 1024, 4099]

    /// Scores of every kind softmax meets: ordinary, large, tiny, saturating, infinite, NaN, subnormal.
    func scores(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(seed)
        let specials: [Float] = [.infinity, -.infinity, .nan, 1e-40, -1e-40, 0, -0.0, 100, -100, 89, -88,
                                 .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        return (0..<n).map { i in
            if i % 37 == 5 { return specials[Int(rng.next() % UInt64(specials.count))] }
            return Float(Int64(rng.next() % 2_000_001) - 1_000_000) / 40_000
        }
    }

    /// Elements whose bits differ.
    func mismatches(_ a: [Float], _ b: [Float]) -> Int {
        a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
    }

    /// Softmax's exponential against exp in double precision, over the whole unclamped range.
    func testExpIsAccurateTo2e7Relative() {
        for unit in VectorUnit.available {
            var x = (0..<20_001).map { Float(-87 + 175 * Double($0) / 20_000) }
            let want = x.map { Foundation.exp(Double($0)) }
            _ = x.withUnsafeMutableBufferPointer { expShiftedInPlace($0.baseAddress!, $0.count, shift: 0, unit: unit) }
            let worst = zip(x, want).map { abs(Double($0) - $1) / $1 }.max()!
            XCTAssertLessThanOrEqual(worst, 2e-7, "\(unit)")
        }
        var special: [Float] = [.infinity, -.infinity, .nan, 100, -100]
        _ = special.withUnsafeMutableBufferPointer { expShiftedInPlace($0.baseAddress!, 5, shift: 0) }
        XCTAssertEqual(special[0], Foundation.exp(Float(88)), accuracy: Foundation.exp(Float(88)) * 1e-6, "clamped at 88")
        XCTAssertEqual(special[1], Foundation.exp(Float(-87.33654)), accuracy: 1e-43, "clamped at -87.3")
        XCTAssertTrue(special[2].isNaN)
    }

    /// The exponential of bfloat16 softmax weights (scale folded in) against exp in double precision: within
    /// 1e-6 relative before rounding (the returned sum), and each weight within bfloat16's
    /// half step (2^-8 relative at most) of the exact exponential plus that.
    func testBFloat16WeightsExpIsAccurateTo1e6Relative() {
        let scale: Float = 0.15811388, shift: Float = 6.5
        for unit in VectorUnit.available {
            // Scores whose scaled and shifted values cover [-85, 3].
            var x = (0..<20_001).map { Float(-496 + 557 * Double($0) / 20_000) }
            let exact = x.map { Foundation.exp(Double($0) * Double(scale) - Double(shift)) }
            var bits = [UInt16](repeating: 0, count: x.count)
            let sum = x.withUnsafeMutableBufferPointer { p in
                bits.withUnsafeMutableBufferPointer {
                    expShifted(p.baseAddress!, p.count, scale: scale, shift: shift, toBFloat16: $0.baseAddress!, unit: unit)
                }
            }
            let exactSum = exact.reduce(0, +)
            XCTAssertLessThanOrEqual(abs(Double(sum) - exactSum) / exactSum, 1e-6, "\(unit) sum")
            let worst = zip(bits, exact).map { abs(Double(floatFromBFloat16($0)) - $1) / $1 }.max()!
            XCTAssertLessThanOrEqual(worst, 1.0 / 256 + 1e-6, "\(unit) weights")
            XCTAssertGreaterThan(worst, 1.0 / 1024, "\(unit): the weights are rounded to bfloat16")

            var special: [Float] = [.infinity, -.infinity, .nan, 1e30, -1e30]
            var specialBits = [UInt16](repeating: 0, count: special.count)
            let specialSum = special.withUnsafeMutableBufferPointer { p in
                specialBits.withUnsafeMutableBufferPointer {
                    expShifted(p.baseAddress!, p.count, scale: scale, shift: shift, toBFloat16: $0.baseAddress!, unit: unit)
                }
            }
            let weights = specialBits.map(floatFromBFloat16)
            XCTAssertTrue(specialSum.isNaN, "\(unit): a NaN score makes the sum NaN")
            XCTAssertTrue(weights[2].isNaN, "\(unit): NaN stays NaN")
            XCTAssertEqual(weights[0], Float(sign: .plus, exponent: 127, significand: 1), "\(unit): clamped at 2^127")
            XCTAssertEqual(weights[3], weights[0], "\(unit)")
            XCTAssertEqual(weights[1], Float(sign: .plus, exponent: -125, significand: 1), "\(unit): clamped at 2^-125")
            XCTAssertEqual(weights[4], weights[1], "\(unit)")
        }
    }

    func testTheCPUsBestUnitIsDetected() {
        XCTAssertTrue(VectorUnit.available.contains(.portable))
        XCTAssertEqual(VectorUnit.available.last, VectorUnit.detected)
        print("vector unit: \(VectorUnit.detected)")
    }

    func testScaledMaxMatchesTheScalarUnitAndReadsOnly() {
        for unit in VectorUnit.available where unit != .portable {
            for n in lengths {
                for scale: Float in [1, 0.125, 0.15811388] {
                    let input = scores(n, seed: UInt64(n) * 31 + 7)
                    var copy = input
                    let expected = input.withUnsafeBufferPointer { scaledMax($0.baseAddress!, n, scale: scale, unit: .portable) }
                    let got = copy.withUnsafeMutableBufferPointer { scaledMax($0.baseAddress!, n, scale: scale, unit: unit) }
                    XCTAssertEqual(got.bitPattern, expected.bitPattern, "\(unit) n \(n) scale \(scale)")
                    XCTAssertEqual(mismatches(copy, input), 0, "the scores stay")
                    // The reference itself: the largest non-NaN product.
                    let want = input.map { $0 * scale }.filter { !$0.isNaN }.max() ?? -.infinity
                    XCTAssertEqual(expected, want, "n \(n) scale \(scale)")
                }
            }
        }
    }

    func testExpShiftedMatchesTheScalarUnitInFloat32AndBFloat16() {
        for unit in VectorUnit.available where unit != .portable {
            for n in lengths {
                for shift: Float in [0, 3.5, -20, 88] {
                    let input = scores(n, seed: UInt64(n) &* 17 &+ UInt64(shift.bitPattern))
                    var reference = input, vector = input, rounded = input
                    let expected = reference.withUnsafeMutableBufferPointer {
                        expShiftedInPlace($0.baseAddress!, n, shift: shift, unit: .portable)
                    }
                    let got = vector.withUnsafeMutableBufferPointer {
                        expShiftedInPlace($0.baseAddress!, n, shift: shift, unit: unit)
                    }
                    XCTAssertEqual(got.bitPattern, expected.bitPattern, "\(unit) sum n \(n) shift \(shift)")
                    XCTAssertEqual(mismatches(vector, reference), 0, "\(unit) n \(n)")

                    var bits = [UInt16](repeating: 0, count: n), portableBits = bits
                    var portableInput = input
                    // With a scale, as bfloat16 attention calls it (AVX512-BF16's own rounding where the CPU has it).
                    let bSum = rounded.withUnsafeMutableBufferPointer { p in
                        bits.withUnsafeMutableBufferPointer { expShifted(p.baseAddress!, n, scale: 0.158, shift: shift, toBFloat16: $0.baseAddress!, unit: unit) }
                    }
                    let pSum = portableInput.withUnsafeMutableBufferPointer { p in
                        portableBits.withUnsafeMutableBufferPointer { expShifted(p.baseAddress!, n, scale: 0.158, shift: shift, toBFloat16: $0.baseAddress!, unit: .portable) }
                    }
                    XCTAssertEqual(bSum.bitPattern, pSum.bitPattern, "\(unit) bf16 sum n \(n)")
                    XCTAssertEqual(zip(bits, portableBits).filter { $0 != $1 }.count, 0, "\(unit) bf16 n \(n) shift \(shift)")
                    XCTAssertEqual(mismatches(rounded, input), 0, "the input stays")
                }
            }
        }
    }

    func testBFloat16RoundingMatchesTheScalarUnit() {
        for unit in VectorUnit.available where unit != .portable {
            for n in lengths {
                var x = scores(n, seed: UInt64(n) + 99)
                // Ties (round to even both ways), the largest finite that rounds to infinity, a signalling NaN.
                let edge: [Float] = [Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
                                     Float(bitPattern: 0x7F7F_FFFF), Float(bitPattern: 0x7F80_0001),
                                     Float(bitPattern: 0xFF80_0001)]
                for (i, e) in edge.enumerated() where i < n { x[(i * 7) % n] = e }
                var a = [UInt16](repeating: 0, count: n), b = a
                x.withUnsafeBufferPointer { src in
                    a.withUnsafeMutableBufferPointer { convertToBFloat16(src.baseAddress!, $0.baseAddress!, count: n, unit: unit) }
                    b.withUnsafeMutableBufferPointer { convertToBFloat16(src.baseAddress!, $0.baseAddress!, count: n, unit: .portable) }
                }
                XCTAssertEqual(zip(a, b).filter { $0 != $1 }.count, 0, "\(unit) n \(n)")
                for i in 0..<n { XCTAssertEqual(b[i], bfloat16Bits(x[i]), "element \(i)") }
            }
        }
    }
}

/// A small deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
