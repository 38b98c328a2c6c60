#if canImport(Glibc)
import Glibc
#endif

extension Tensor {
    /// A new tensor of the same shape with `f` applied to every element (split over the cores).
    @inlinable
    public func map(_ f: (Float) -> Float) -> Tensor {
        let n = count
        return withoutActuallyEscaping(f) { f in
            Tensor(shape: shape) { out in
                data.withUnsafeBufferPointer { src in
                    let s = src.baseAddress!, o = out.baseAddress!
                    parallelRanges(n) { r in
                        for i in r { o[i] = f(s[i]) }
                    }
                }
            }
        }
    }

    @inlinable
    func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "elementwise op on shapes \(shape) and \(other.shape)")
        let n = count
        return withoutActuallyEscaping(f) { f in
            Tensor(shape: shape) { out in
                data.withUnsafeBufferPointer { a in
                    other.data.withUnsafeBufferPointer { b in
                        let pa = a.baseAddress!, pb = b.baseAddress!, o = out.baseAddress!
                        parallelRanges(n) { r in
                            for i in r { o[i] = f(pa[i], pb[i]) }
                        }
                    }
                }
            }
        }
    }

    /// Elementwise sum of two tensors of the same shape.
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, +) }
    /// Elementwise difference of two tensors of the same shape.
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, -) }
    /// Elementwise product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, *) }
    /// Every element times `s`.
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    /// Every element plus `s`.
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    /// Every element divided by `s` (a true division, as torch does, not a multiplication by 1/s).
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }

    /// Adds `v` along axis 1: `v` is [C] or [N, C] for a tensor [N, C, ...] (a per-channel bias or a
    /// per-sample, per-channel embedding broadcast over the spatial axes).
    public func addingChannelwise(_ v: Tensor) -> Tensor {
        let n = dim(0), c = dim(1)
        let inner = count / max(n * c, 1)
        precondition(v.shape == [c] || v.shape == [n, c],
                     "channelwise add of \(v.shape) to \(shape)")
        let perSample = v.rank == 2
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                v.data.withUnsafeBufferPointer { vb in
                    let s = src.baseAddress!, o = out.baseAddress!, vp = vb.baseAddress!
                    parallelRanges(n * c, minChunk: max(1, (1 << 15) / max(inner, 1))) { r in
                        for nc in r {
                            let b = perSample ? vp[nc] : vp[nc % c]
                            let base = nc * inner
                            for i in 0..<inner { o[base + i] = s[base + i] + b }
                        }
                    }
                }
            }
        }
    }

    /// x * sigmoid(x).
    public func silu() -> Tensor {
        let n = count
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(n) { r in
                    // exp(-x) in a scratch pass so it vectorises, then x / (1 + e).
                    for i in r { o[i] = -s[i] }
                    fastExpInPlace(o + r.lowerBound, r.count)
                    for i in r { o[i] = s[i] / (1 + o[i]) }
                }
            }
        }
    }

    /// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), torch's default.
    public func gelu() -> Tensor {
        map { x in 0.5 * x * (1 + erff(x * 0.70710678118654752440)) }
    }

    /// GELU's tanh approximation (torch `approximate="tanh"`).
    public func geluTanh() -> Tensor {
        map { x in 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
    }

    /// CLIP's quick GELU: x * sigmoid(1.702 x).
    public func quickGelu() -> Tensor {
        map { x in x / (1 + expf(-1.702 * x)) }
    }

    /// GEGLU's gate: the last axis holds (a, gate) halves; returns a * gelu(gate).
    public func geglu() -> Tensor {
        let last = dim(-1)
        precondition(last % 2 == 0, "geglu needs an even last axis, got \(shape)")
        let half = last / 2
        let rows = count / last
        var outShape = shape
        outShape[outShape.count - 1] = half
        return Tensor(shape: outShape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(rows, minChunk: max(1, (1 << 14) / half)) { r in
                    for row in r {
                        let a = s + row * last, g = a + half, d = o + row * half
                        for j in 0..<half {
                            let x = g[j]
                            d[j] = a[j] * (0.5 * x * (1 + erff(x * 0.70710678118654752440)))
                        }
                    }
                }
            }
        }
    }
}
