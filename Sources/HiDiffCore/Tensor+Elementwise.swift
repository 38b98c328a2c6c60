import HiDiffKernels
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

    /// The shared loop of `+`, `-`, `*`: an enum switch outside the loop instead of a closure per element,
    /// so each loop is a plain vectorisable pass.
    enum BinaryOp { case add, subtract, multiply }

    func binary(_ other: Tensor, _ op: BinaryOp) -> Tensor {
        precondition(shape == other.shape, "elementwise op on shapes \(shape) and \(other.shape)")
        return profiled("add/sub/mul") { Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { a in
                other.data.withUnsafeBufferPointer { b in
                    let pa = a.baseAddress!, pb = b.baseAddress!, o = out.baseAddress!
                    parallelRanges(out.count) { r in
                        switch op {
                        case .add: for i in r { o[i] = pa[i] + pb[i] }
                        case .subtract: for i in r { o[i] = pa[i] - pb[i] }
                        case .multiply: for i in r { o[i] = pa[i] * pb[i] }
                        }
                    }
                }
            }
        } }
    }

    /// Elementwise sum of two tensors of the same shape.
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .add) }
    /// Elementwise difference of two tensors of the same shape.
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .subtract) }
    /// Elementwise product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.binary(b, .multiply) }
    /// Every element times `s`.
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    /// Every element plus `s`.
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    /// Every element divided by `s` (a true division, as torch does, not a multiplication by 1/s).
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }

    /// Adds `v` along axis 1: `v` is [C] or [N, C] for a tensor [N, C, ...] (a per-channel bias or a
    /// per-sample, per-channel embedding broadcast over the spatial axes).
    public func addingChannelwise(_ v: Tensor) -> Tensor {
        profiled("addChannelwise") { addingChannelwiseCore(v) }
    }

    func addingChannelwiseCore(_ v: Tensor) -> Tensor {
        let n = dim(0), c = dim(1)
        let inner = count / max(n * c, 1)
        precondition(v.shape == [c] || v.shape == [n, c],
                     "channelwise add of \(v.shape) to \(shape)")
        let perSample = v.rank == 2
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                v.data.withUnsafeBufferPointer { vb in
                    addPlaneBias(src.baseAddress!, out.baseAddress!, planes: n * c, inner: inner, bias: vb.baseAddress!,
                                 channels: c, perPlane: perSample)
                }
            }
        }
    }

    /// x * sigmoid(x), computed as x / (1 + exp(-x)) in one vectorised pass.
    public func silu() -> Tensor {
        profiled("silu") {
            Tensor(shape: shape) { out in
                data.withUnsafeBufferPointer { src in
                    siluRange(src.baseAddress!, out.baseAddress!, out.count)
                }
            }
        }
    }

    /// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), torch's default.
    /// erf is evaluated as `fastErf` (the approximation torch's vectorised CPU kernel uses).
    public func gelu() -> Tensor {
        Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(out.count) { r in
                    var i = r.lowerBound
                    while i + 8 <= r.upperBound {
                        store8(fastGelu(load8(s, i)), o, i)
                        i += 8
                    }
                    while i < r.upperBound {
                        o[i] = fastGelu(s[i])
                        i += 1
                    }
                }
            }
        }
    }

    /// GELU's tanh approximation (torch `approximate="tanh"`).
    public func geluTanh() -> Tensor {
        map { x in 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
    }

    /// CLIP's quick GELU: x * sigmoid(1.702 x).
    public func quickGelu() -> Tensor {
        map { x in x / (1 + expf(-1.702 * x)) }
    }

    /// One row of GEGLU: `half` values a at `src`, their gates right after; d[j] = a[j] * gelu(gate[j]).
    @inline(__always)
    static func gegluRow(_ src: UnsafePointer<Float>, half: Int, into d: UnsafeMutablePointer<Float>) {
        let a = src, g = src + half
        var j = 0
        while j + 8 <= half {
            store8(load8(a, j) * fastGelu(load8(g, j)), d, j)
            j += 8
        }
        while j < half {
            d[j] = a[j] * fastGelu(g[j])
            j += 1
        }
    }

    /// GEGLU's gate: the last axis holds (a, gate) halves; returns a * gelu(gate).
    public func geglu() -> Tensor {
        profiled("geglu") { gegluCore() }
    }

    func gegluCore() -> Tensor {
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
                    for row in r { Self.gegluRow(s + row * last, half: half, into: o + row * half) }
                }
            }
        }
    }
}
