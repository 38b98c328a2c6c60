import HiDiffKernels

/// One attention call's Q, K and V as its tasks read them.
enum AttentionOperands {
    /// The float32 tensors, [B, L, C] with heads as column blocks.
    case float32(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>)
    /// bfloat16 copies, head-major (`BFloat16AttentionOperands`): q and k [B, heads, L, paddedWidth], v
    /// [B, heads, Lk, dv].
    case bfloat16(q: UnsafePointer<UInt16>, k: UnsafePointer<UInt16>, v: UnsafePointer<UInt16>, paddedWidth: Int)

    /// The operands of one task: sample `bi`, head `h`, query rows from `q0`.
    func task(sample bi: Int, head h: Int, heads: Int, firstQuery q0: Int, geometry g: AttentionGeometry)
        -> AttentionOperands {
        switch self {
        case let .float32(q, k, v):
            return .float32(q: q + bi * g.lq * g.c + q0 * g.c + h * g.d, k: k + bi * g.lk * g.c + h * g.d,
                            v: v + bi * g.lk * g.cv + h * g.dv)
        case let .bfloat16(q, k, v, dp):
            let bh = bi * heads + h
            return .bfloat16(q: q + (bh * g.lq + q0) * dp, k: k + bh * g.lk * dp, v: v + bh * g.lk * g.dv,
                             paddedWidth: dp)
        }
    }
}

/// Q, K and V rounded to bfloat16 and laid out head by head, each head's rows dense: oneDNN multiplies dense
/// operands on AMX and strided ones on a slower path (measured 3-8x slower for attention's shapes). Query
/// and key heads are padded with zero columns to a multiple of 32 (AMX's bfloat16 depth): the zeros add
/// nothing to the dot products, and heads of 40 or 80 ran 2-3x slower than heads of 64 or 96 unpadded.
struct BFloat16AttentionOperands {
    let q: [UInt16], k: [UInt16], v: [UInt16]
    let paddedWidth: Int

    init(_ query: Tensor, _ key: Tensor, _ value: Tensor, heads: Int) {
        let d = query.dim(2) / heads
        paddedWidth = (d + 31) / 32 * 32
        q = Self.headMajor(query, heads: heads, paddedWidth: paddedWidth)
        k = Self.headMajor(key, heads: heads, paddedWidth: paddedWidth)
        v = Self.headMajor(value, heads: heads, paddedWidth: value.dim(2) / heads)
    }

    /// [B, L, heads * d] -> [B, heads, L, dp] in bfloat16, columns d..<dp zero.
    static func headMajor(_ x: Tensor, heads: Int, paddedWidth dp: Int) -> [UInt16] {
        let (b, l, c) = (x.dim(0), x.dim(1), x.dim(2))
        let d = c / heads
        let count = b * heads * l * dp
        if count == 0 { return [] }
        return [UInt16](unsafeUninitializedCapacity: count) { out, n in
            HugePages.advise(out)
            x.data.withUnsafeBufferPointer { xb in
                let src = xb.baseAddress!, dst = out.baseAddress!
                parallelRanges(b * l, minChunk: max(1, (1 << 15) / max(c, 1))) { rows in
                    for row in rows {
                        let bi = row / l, t = row % l
                        for h in 0..<heads {
                            let to = dst + ((bi * heads + h) * l + t) * dp
                            convertToBFloat16(src + row * c + h * d, to, count: d)
                            if dp > d { (to + d).initialize(repeating: 0, count: dp - d) }
                        }
                    }
                }
            }
            n = count
        }
    }
}
