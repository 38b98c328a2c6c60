extension Tensor {
    /// Largest score block (floats) one attention chunk may hold: 8M floats = 32 MB.
    public static let attentionScoreBudget = 1 << 23

    /// Multi-head scaled-dot-product attention, softmax(Q K^T / sqrt(d)) V per head, d = C / heads.
    ///
    /// `query` is [B, Lq, C], `key` and `value` [B, Lk, C] (value may have its own width Cv); heads are
    /// column blocks of C, so no head transposes are made. Queries are processed in chunks so the score
    /// block never exceeds `attentionScoreBudget` floats: memory stays bounded at any sequence length.
    /// With several stripes, keys and values are gathered from every stripe (global self-attention);
    /// pass `SingleShard()` for cross-attention, whose keys are the text tokens every stripe holds.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false,
                                 collective: any Collective = SingleShard()) -> Tensor {
        let key = collective.size > 1 ? collective.allGather(key, axis: 1) : key
        let value = collective.size > 1 ? collective.allGather(value, axis: 1) : value
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention wants [B, L, C] tensors")
        let (b, lq, c) = (query.dim(0), query.dim(1), query.dim(2))
        let lk = key.dim(1), cv = value.dim(2)
        precondition(key.dim(0) == b && value.dim(0) == b && key.dim(2) == c && value.dim(1) == lk,
                     "attention shapes q \(query.shape) k \(key.shape) v \(value.shape)")
        precondition(c % heads == 0 && cv % heads == 0, "attention: \(c) channels for \(heads) heads")
        let d = c / heads, dv = cv / heads
        let scale = 1 / Float(d).squareRoot()
        let chunk = max(1, min(lq, attentionScoreBudget / max(lk, 1)))
        var out = Tensor(zeros: [b, lq, cv])
        var scores = [Float](repeating: 0, count: chunk * lk)
        query.data.withUnsafeBufferPointer { qb in
            key.data.withUnsafeBufferPointer { kb in
                value.data.withUnsafeBufferPointer { vb in
                    out.data.withUnsafeMutableBufferPointer { ob in
                        scores.withUnsafeMutableBufferPointer { sb in
                            let s = sb.baseAddress!
                            for bi in 0..<b {
                                for h in 0..<heads {
                                    let q = qb.baseAddress! + bi * lq * c + h * d
                                    let k = kb.baseAddress! + bi * lk * c + h * d
                                    let v = vb.baseAddress! + bi * lk * cv + h * dv
                                    let o = ob.baseAddress! + bi * lq * cv + h * dv
                                    var q0 = 0
                                    while q0 < lq {
                                        let rows = min(chunk, lq - q0)
                                        sgemm(transB: true, m: rows, n: lk, k: d, alpha: scale,
                                              a: q + q0 * c, lda: c, b: k, ldb: c, c: s, ldc: lk)
                                        parallelRanges(rows, minChunk: max(1, (1 << 14) / max(lk, 1))) { r in
                                            for i in r {
                                                let row = s + i * lk
                                                if causal {
                                                    // Token q0+i sees keys 0...q0+i.
                                                    let visible = min(lk, q0 + i + 1)
                                                    softmaxRow(row, visible)
                                                    if visible < lk { (row + visible).update(repeating: 0, count: lk - visible) }
                                                } else {
                                                    softmaxRow(row, lk)
                                                }
                                            }
                                        }
                                        sgemm(m: rows, n: dv, k: lk, a: s, lda: lk, b: v, ldb: cv,
                                              c: o + q0 * cv, ldc: cv)
                                        q0 += rows
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
