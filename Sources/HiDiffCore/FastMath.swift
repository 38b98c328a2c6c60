/// Vectorised float32 exp (Cephes `expf` polynomial, ~1 ulp), the hot path of softmax and SiLU.
@inlinable @inline(__always)
public func fastExp(_ v: SIMD8<Float>) -> SIMD8<Float> {
    var x = v.clamped(lowerBound: SIMD8(repeating: -87.3365478515625),
                      upperBound: SIMD8(repeating: 88.3762626647949))
    var fx = x * 1.44269504088896341 + 0.5
    fx = fx.rounded(.down)
    x = x - fx * 0.693359375
    x = x - fx * -2.12194440e-4
    let z = x * x
    var y = SIMD8<Float>(repeating: 1.9875691500e-4)
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    let n = SIMD8<Int32>(fx, rounding: .towardZero) &+ 127
    let scale = unsafeBitCast(n &<< 23, to: SIMD8<Float>.self)
    return y * scale
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
