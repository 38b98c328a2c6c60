import CVectorKernels

/// The vector unit softmax's row loops and bfloat16 rounding run on (CVectorKernels), detected once from
/// the CPU's features. Every unit computes the same bits as the scalar one, so the choice changes speed only.
public enum VectorUnit: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// Scalar C: any CPU, and the reference the others are tested against.
    case portable = 0
    /// AVX2 with FMA.
    case avx2 = 1
    /// AVX-512 F, BW and VL, with FMA.
    case avx512 = 2

    /// The best unit this CPU has.
    public static let detected = VectorUnit(rawValue: Int(hd_vector_level())) ?? .portable

    /// The units this CPU can run, for tests that compare them.
    public static var available: [VectorUnit] { allCases.filter { $0.rawValue <= detected.rawValue } }

    public var description: String {
        switch self {
        case .portable: return "scalar"
        case .avx2: return "AVX2"
        case .avx512: return "AVX-512"
        }
    }
}

/// The largest p[i] * scale of `n` floats (-infinity for none; NaN never wins); p is not changed.
@inlinable
public func scaledMax(_ p: UnsafePointer<Float>, _ n: Int, scale: Float, unit: VectorUnit = .detected) -> Float {
    hd_scale_max(Int32(unit.rawValue), p, n, scale)
}

/// Largest of `n` floats (-infinity for none; NaN never wins).
@inlinable
public func maxElement(_ p: UnsafePointer<Float>, _ n: Int, unit: VectorUnit = .detected) -> Float {
    hd_scale_max(Int32(unit.rawValue), p, n, 1)
}

/// p[i] = exp(p[i] - shift) for `n` floats (softmax's exponential: relative error <= 2e-7); returns their
/// sum, in sixteen running lane sums.
@inlinable
public func expShiftedInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift: Float,
                              unit: VectorUnit = .detected) -> Float {
    hd_exp_shifted(Int32(unit.rawValue), p, n, 1, shift, nil)
}

/// exp(p[i] * scale - shift) for `n` floats, rounded to bfloat16 into `dst` (p unchanged); returns the sum of
/// the float32 exponentials, as `expShiftedInPlace` sums them. The scale is folded into the exponential's
/// first fused multiply-add and 2^n put in by VSCALEFPS: eleven vector operations per sixteen scores where
/// `expShiftedInPlace` after a scaling takes eighteen, at the same accuracy (bfloat16 attention at 16384
/// tokens 7-18% faster in interleaved runs).
@inlinable
public func expShifted(_ p: UnsafeMutablePointer<Float>, _ n: Int, scale: Float = 1, shift: Float,
                       toBFloat16 dst: UnsafeMutablePointer<UInt16>, unit: VectorUnit = .detected) -> Float {
    hd_exp_shifted(Int32(unit.rawValue), p, n, scale, shift, dst)
}
