/// Scalar replicas of the single-precision Cephes `log` and `sincos` of `avx_mathfun.h`, which PyTorch's AVX2
/// `normal_fill` uses for Box-Muller.
///
/// Torch's build contracts multiply-add pairs into fused multiply-adds; the replicas fuse the same pairs
/// (`addingProduct`), which is what makes the noise bit-identical. Only the domain Box-Muller feeds them is
/// supported: `log` on (0, 1], `sincos` on [0, 2pi).
enum CephesAVX2 {
    private static let sqrtHalf: Float = 0.707106781186547524
    private static let logP: [Float] = [
        7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
        -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
    ]
    private static let logQ1: Float = -2.12194440e-4
    private static let logQ2: Float = 0.693359375

    private static let minusDP1: Float = -0.78515625
    private static let minusDP2: Float = -2.4187564849853515625e-4
    private static let minusDP3: Float = -3.77489497744594108e-8
    private static let sinP0: Float = -1.9515295891e-4
    private static let sinP1: Float = 8.3321608736e-3
    private static let sinP2: Float = -1.6666654611e-1
    private static let cosP0: Float = 2.443315711809948e-5
    private static let cosP1: Float = -1.388731625493765e-3
    private static let cosP2: Float = 4.166664568298827e-2
    private static let fourOverPi: Float = 1.27323954473516

    /// `log256_ps` for one lane; `value` must be positive.
    @inline(__always)
    static func log(_ value: Float) -> Float {
        // Clamp denormals up to the smallest normal, then split mantissa and exponent.
        let v = max(value, Float(bitPattern: 0x0080_0000))
        let bits = v.bitPattern
        var x = Float(bitPattern: (bits & ~UInt32(0x7f80_0000)) | Float(0.5).bitPattern)
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7f) + 1
        let below = x < sqrtHalf
        let tmp: Float = below ? x : 0
        x = x - 1
        e = e - (below ? 1 : 0)
        x = x + tmp

        let z = x * x
        var y = logP[0]
        for k in 1..<9 { y = logP[k].addingProduct(y, x) }
        y = y * x
        y = (e * logQ1).addingProduct(y, z)  // fused: y * z + e * q1
        y = y - z * 0.5
        x = x + y
        x = x + e * logQ2  // e * q2 is exact, fused or not
        return x
    }

    /// `sincos256_ps` for one lane, returning (sin, cos); `value` must be non-negative and moderate.
    @inline(__always)
    static func sincos(_ value: Float) -> (sin: Float, cos: Float) {
        var x = abs(value)
        var j = Int32(x * fourOverPi)  // truncation, like cvttps
        j = (j + 1) & ~1
        let y = Float(j)
        let swapSignSin = (j & 4) != 0
        let polyMask = (j & 2) == 0
        // "Extended precision modular arithmetic", each step a fused multiply-add.
        x = x.addingProduct(y, minusDP1)
        x = x.addingProduct(y, minusDP2)
        x = x.addingProduct(y, minusDP3)
        let cosSignFlip = (~(j - 2) & 4) != 0
        let sinSignFlip = (value.sign == .minus) != swapSignSin

        let z = x * x
        var yc = cosP0
        yc = cosP1.addingProduct(yc, z)
        yc = cosP2.addingProduct(yc, z)
        yc = yc * z
        yc = (-(z * 0.5)).addingProduct(yc, z)  // fused: (yc * z) * z - z * 0.5
        yc = yc + 1

        var ys = sinP0
        ys = sinP1.addingProduct(ys, z)
        ys = sinP2.addingProduct(ys, z)
        ys = ys * z
        ys = x.addingProduct(ys, x)

        // Blend exactly as the vector code does (signed zeros included).
        let ysin2: Float = polyMask ? ys : 0
        let ysin1: Float = polyMask ? 0 : yc
        let y2 = ys - ysin2
        let y1 = yc - ysin1
        var s = ysin1 + ysin2
        var c = y1 + y2
        if sinSignFlip { s = -s }
        if cosSignFlip { c = -c }
        return (s, c)
    }
}
