import CVectorKernels
import HiDiffKernels

/// One attention call's Q, K and V as its tasks read them.
enum AttentionOperands {
    /// The float32 tensors, [B, L, C] with heads as column blocks.
    case float32(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>)
    /// bfloat16 copies, head-major (`BFloat16AttentionOperands`): q and k [B, heads, L, paddedWidth], v
    /// [B, heads, Lk, dv].
    case bfloat16(q: UnsafePointer<UInt16>, k: UnsafePointer<UInt16>, v: UnsafePointer<UInt16>, paddedWidth: Int)
    /// bfloat16 copies for AMX tiles (`BFloat16AttentionOperands` with `tiles`): q [B, heads, lq32, paddedWidth]
    /// with zero rows up to lq32 = roundUp(Lq, 32); k and v per head in tile order (`hd_amx_pack_keys`,
    /// `hd_amx_pack_values`), lk32 x paddedWidth and lk32 x paddedValueWidth values.
    case tiles(q: UnsafePointer<UInt16>, k: UnsafePointer<UInt16>, v: UnsafePointer<UInt16>, paddedWidth: Int,
               paddedValueWidth: Int, paddedQueries: Int, paddedKeys: Int)

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
        case let .tiles(q, k, v, dp, dvp, lq32, lk32):
            let bh = bi * heads + h
            return .tiles(q: q + (bh * lq32 + q0) * dp, k: k + bh * lk32 * dp, v: v + bh * lk32 * dvp,
                          paddedWidth: dp, paddedValueWidth: dvp, paddedQueries: lq32, paddedKeys: lk32)
        }
    }
}

/// Q, K and V rounded to bfloat16 and laid out head by head, each head's rows dense: oneDNN multiplies dense
/// operands on AMX and strided ones on a slower path (measured 3-8x slower for attention's shapes). Query
/// and key heads are padded with zero columns to a multiple of 32 (AMX's bfloat16 depth): the zeros add
/// nothing to the dot products, and heads of 40 or 80 ran 2-3x slower than heads of 64 or 96 unpadded.
///
/// With `tiles` (AMX), query rows are padded with zeros to a multiple of 32 and keys and values are laid out
/// in the tile order of `hd_amx_scores` and `hd_amx_weighted_sum`, once per call.
struct BFloat16AttentionOperands {
    let q: [UInt16], k: [UInt16], v: [UInt16]
    let paddedWidth: Int
    /// The tile layout's sizes, nil for oneDNN's dense operands.
    let tiles: (paddedValueWidth: Int, paddedQueries: Int, paddedKeys: Int)?

    init(_ query: Tensor, _ key: Tensor, _ value: Tensor, heads: Int, tiles: Bool = false) {
        let d = query.dim(2) / heads, dv = value.dim(2) / heads
        paddedWidth = (d + 31) / 32 * 32
        guard tiles else {
            q = Self.headMajor(query, heads: heads, paddedWidth: paddedWidth)
            k = Self.headMajor(key, heads: heads, paddedWidth: paddedWidth)
            v = Self.headMajor(value, heads: heads, paddedWidth: dv)
            self.tiles = nil
            return
        }
        let lq32 = (query.dim(1) + 31) / 32 * 32, lk = key.dim(1), lk32 = (lk + 31) / 32 * 32
        let dvp = (dv + 15) / 16 * 16
        q = Self.headMajor(query, heads: heads, paddedWidth: paddedWidth, paddedRows: lq32)
        let (dp, count) = (paddedWidth, key.dim(0) * heads)
        k = Self.packedPerHead(Self.headMajor(key, heads: heads, paddedWidth: dp), heads: count,
                               from: lk * dp, to: lk32 * dp) { src, dst in hd_amx_pack_keys(src, lk, dp, dp, dst) }
        v = Self.packedPerHead(Self.headMajor(value, heads: heads, paddedWidth: dv), heads: count,
                               from: lk * dv, to: lk32 * dvp) { src, dst in hd_amx_pack_values(src, lk, dv, dv, dst) }
        self.tiles = (dvp, lq32, lk32)
    }

    /// Each of `heads` blocks of `from` values re-laid by `pack` into a block of `to` values.
    static func packedPerHead(_ x: [UInt16], heads: Int, from: Int, to: Int,
                              pack: (UnsafePointer<UInt16>, UnsafeMutablePointer<UInt16>) -> Void)
        -> [UInt16] {
        if heads * to == 0 { return [] }
        return [UInt16](unsafeUninitializedCapacity: heads * to) { out, n in
            x.withUnsafeBufferPointer { xb in
                let src = xb.baseAddress!, dst = out.baseAddress!
                parallelRanges(heads, minChunk: 1) { range in
                    for h in range { pack(src + h * from, dst + h * to) }
                }
            }
            n = heads * to
        }
    }

    /// [B, L, heads * d] -> [B, heads, paddedRows, dp] in bfloat16, columns d..<dp and rows L..<paddedRows zero.
    static func headMajor(_ x: Tensor, heads: Int, paddedWidth dp: Int, paddedRows: Int? = nil) -> [UInt16] {
        let (b, l, c) = (x.dim(0), x.dim(1), x.dim(2))
        let d = c / heads
        let lp = paddedRows ?? l
        let count = b * heads * lp * dp
        if count == 0 { return [] }
        return [UInt16](unsafeUninitializedCapacity: count) { out, n in
            HugePages.advise(out)
            x.data.withUnsafeBufferPointer { xb in
                let src = xb.baseAddress!, dst = out.baseAddress!
                parallelRanges(b * l, minChunk: max(1, (1 << 15) / max(c, 1))) { rows in
                    for row in rows {
                        let bi = row / l, t = row % l
                        for h in 0..<heads {
                            let to = dst + ((bi * heads + h) * lp + t) * dp
                            convertToBFloat16(src + row * c + h * d, to, count: d)
                            if dp > d { (to + d).initialize(repeating: 0, count: dp - d) }
                        }
                    }
                }
                if lp > l {
                    for bh in 0..<(b * heads) {
                        (dst + (bh * lp + l) * dp).initialize(repeating: 0, count: (lp - l) * dp)
                    }
                }
            }
            n = count
        }
    }
}
