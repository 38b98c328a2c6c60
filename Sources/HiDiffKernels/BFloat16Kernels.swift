import CVectorKernels

/// bfloat16 <-> float32 conversion: a bfloat16 is the upper 16 bits of a float32 (same sign and exponent, 7
/// mantissa bits). Rounding is to nearest, ties to even, as PyTorch's `.to(torch.bfloat16)`; NaN stays NaN
/// (quiet), infinities and zeros keep their sign, and a finite value that rounds past the largest bfloat16
/// becomes infinity, as in IEEE arithmetic.
@inlinable @inline(__always)
public func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// The float32 a bfloat16 stands for (exact).
@inlinable @inline(__always)
public func floatFromBFloat16(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Converts `count` floats to bfloat16 (round to nearest even): `bfloat16Bits` on vectors.
public func convertToBFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int,
                              unit: VectorUnit = .detected) {
    hd_to_bfloat16(Int32(unit.rawValue), src, dst, count)
}

/// `convertToBFloat16` split over the cores, for activations of a layer (megabytes).
public func convertToBFloat16Parallel(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
    parallelRanges(count, minChunk: 1 << 16) { r in
        convertToBFloat16(src + r.lowerBound, dst + r.lowerBound, count: r.count)
    }
}

/// Converts `count` bfloat16 values to floats.
public func convertFromBFloat16(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dst[i] = floatFromBFloat16(src[i]) }
}
