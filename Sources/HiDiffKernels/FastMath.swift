/// Vectorised float32 exp, the hot path of softmax, SiLU and GELU: relative error <= 1e-7 on
/// [-87, 88] (inputs beyond are clamped there).
///
/// x = n ln2 + r with n = round(x / ln2) and r in [-ln2/2, ln2/2] (Cody-Waite split of ln2, so r is
/// exact), e^r by a degree-6 minimax polynomial, 2^n built in the exponent field. Written with plain lane
/// arithmetic and bit casts only: the generic SIMD conversions (`rounded(_:)`, `SIMD8<Int32>(_:rounding:)`,
/// `clamped`) are not specialised into vector instructions on the baseline x86-64 target and cost ~20x the
/// polynomial. Rounding uses the 1.5 * 2^23 "magic number": adding it rounds a float below 2^22 to an
/// integer held in the low mantissa bits.
@inlinable @inline(__always)
public func fastExp(_ v: SIMD8<Float>) -> SIMD8<Float> {
    // The upper clamp keeps n <= 127 (a finite power of two); e^88 = 1.65e38.
    let lo = SIMD8<Float>(repeating: -87.33654), hi = SIMD8<Float>(repeating: 88)
    var x = v.replacing(with: lo, where: v .< lo)
    x = x.replacing(with: hi, where: x .> hi)
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let t = x * 1.44269504088896341 + magic
    let n = t - magic
    var r = x - n * 0.693359375
    r = r - n * -2.12194440e-4
    var y = SIMD8<Float>(repeating: 0.001381461275741458)
    y = y * r + 0.008368710055947304
    y = y * r + 0.04166838899254799
    y = y * r + 0.1666652113199234
    y = y * r + 0.4999999403953552
    y = y * r + 1
    y = y * r + 1
    // t's low mantissa bits hold n; n + 127 shifted into the exponent field is 2^n.
    let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    return y * unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)
}

/// Scalar companion of `fastExp(_:)` for loop tails, so results do not depend on where a tail starts.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    fastExp(SIMD8<Float>(repeating: x))[0]
}

/// Applies `fastExp` in place to `count` floats at `p`.
@inlinable
public func fastExpInPlace(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    let raw = UnsafeMutableRawPointer(p)
    while i + 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        raw.storeBytes(of: fastExp(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        p[i] = fastExp(p[i])
        i += 1
    }
}

/// Loads 8 floats at `p + i` (no alignment needed).
@inlinable @inline(__always)
public func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
}

/// Stores 8 floats at `p + i` (no alignment needed).
@inlinable @inline(__always)
public func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, toByteOffset: i &* 4, as: SIMD8<Float>.self)
}

/// Vectorised float32 erf: Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), the formula PyTorch's
/// vectorised CPU `erf` (and so its exact GELU) uses.
@inlinable @inline(__always)
public func fastErf(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let signBit = SIMD8<UInt32>(repeating: 0x8000_0000)
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let sign = bits & signBit
    let a = unsafeBitCast(bits & ~signBit, to: SIMD8<Float>.self)
    let t = 1 / (a * 0.3275911 + 1)
    var r = t * 1.061405429 + -1.453152027
    r = r * t + 1.421413741
    r = r * t + -0.284496736
    r = r * t + 0.254829592
    let y = 1 - r * t * fastExp(-(x * x))
    return unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) ^ sign, to: SIMD8<Float>.self)
}

/// Exact (erf) GELU of eight lanes: 0.5 x (1 + erf(x / sqrt 2)).
@inlinable @inline(__always)
public func fastGelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
    x * 0.5 * (1 + fastErf(x * 0.70710678118654752440))
}

/// Scalar companion of `fastGelu(_:)` for loop tails.
@inlinable @inline(__always)
public func fastGelu(_ x: Float) -> Float {
    fastGelu(SIMD8<Float>(repeating: x))[0]
}

/// SiLU, x * sigmoid(x), as x / (1 + exp(-x)): the one definition every SiLU pass uses.
@inlinable @inline(__always)
public func fastSiLU(_ x: SIMD8<Float>) -> SIMD8<Float> {
    x / (1 + fastExp(-x))
}

/// Scalar companion of `fastSiLU(_:)` for loop tails (the same value as the vector form's lane).
@inlinable @inline(__always)
public func fastSiLU(_ x: Float) -> Float {
    x / (1 + fastExp(-x))
}

/// o[i] = s[i] / (1 + exp(-s[i])) for `n` floats, split over the cores (o may equal s).
public func siluRange(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ n: Int) {
    parallelRanges(n) { r in
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            store8(fastSiLU(load8(s, i)), o, i)
            i += 8
        }
        while i < r.upperBound {
            o[i] = fastSiLU(s[i])
            i += 1
        }
    }
}
