import CVectorKernels

/// The vector unit softmax's row loops and bfloat16 rounding run on (CVectorKernels), detected once from
/// the CPU's features. Every unit computes the same bits as the portable loops here, so the choice changes
/// speed only.
public enum VectorUnit: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// The portable Swift loops (eight lanes, built for baseline x86-64 or any other CPU).
    case portable = 0
    case avx2 = 1
    /// AVX-512 F, BW and VL.
    case avx512 = 2

    /// The best unit this CPU has.
    public static let detected = VectorUnit(rawValue: Int(hd_vector_level())) ?? .portable

    /// The units this CPU can run, for tests that compare them.
    public static var available: [VectorUnit] { allCases.filter { $0.rawValue <= detected.rawValue } }

    public var description: String {
        switch self {
        case .portable: return "portable"
        case .avx2: return "AVX2"
        case .avx512: return "AVX-512"
        }
    }
}

/// p[i] *= scale for `n` floats (nothing when scale is 1); returns the largest result (-infinity for none).
@inlinable
public func scaleAndMax(_ p: UnsafeMutablePointer<Float>, _ n: Int, scale: Float,
                        unit: VectorUnit = .detected) -> Float {
    if unit != .portable { return hd_scale_max(Int32(unit.rawValue), p, n, scale) }
    if scale != 1 { for i in 0..<n { p[i] *= scale } }
    return portableMaxElement(p, n)
}

/// e[i] = fastExp(p[i] - shift) for `n` floats rounded to bfloat16 into `dst` (p unchanged); returns the
/// sum of the float32 e, as `expShiftedInPlace` sums them.
@inlinable
public func expShifted(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift: Float,
                       toBFloat16 dst: UnsafeMutablePointer<UInt16>, unit: VectorUnit = .detected) -> Float {
    if unit != .portable { return hd_exp_shifted(Int32(unit.rawValue), p, n, shift, dst) }
    let sum = portableExpShiftedInPlace(p, n, shift: shift)
    portableConvertToBFloat16(p, dst, count: n)
    return sum
}
