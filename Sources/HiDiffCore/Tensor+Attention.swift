import HiDiffKernels
import Synchronization

extension Tensor {
    /// Upper bound on the score block (floats) any attention call holds at once per core: 8M floats = 32 MB.
    /// The tiles actually used are far smaller (see `attentionTile`), sized for the caches.
    public static let attentionScoreBudget = 1 << 23

    /// Query rows and key columns of one score tile: up to 1024 keys and about 256K floats (1 MB), so the tile
    /// and the key and value blocks stay in a core's L2 and L3 caches while each product is still large
    /// enough to run near peak (measured at 4096 tokens with OpenBLAS's products: 256 x 1024 beat 128 x 1024
    /// by ~5%, 512 x 256 was 75% slower, whole 4096-key rows 10% slower; with oneDNN's, 128 x 1024 to
    /// 512 x 1024 and 128 x 2048 were all within 5%).
    ///
    /// bfloat16 (AMX products, each several times faster) walks longer key sequences in blocks of 512 keys
    /// with 512 query rows: measured 8-15% faster than 1024 x 256 at 4096 tokens, and slower at 1024 tokens,
    /// where one block of every key needs no rescaling.
    static func attentionTile(lk: Int, precision: Precision = .fp32) -> (rows: Int, keys: Int) {
        let keys = precision == .bf16 && lk > 1024 ? 512 : min(lk, 1024)
        let rows = max(16, min(512, (1 << 18) / max(keys, 1)) / 16 * 16)
        return (rows, keys)
    }

    /// Multi-head scaled-dot-product attention, softmax(Q K^T / sqrt(d)) V per head, d = C / heads.
    ///
    /// `query` is [B, Lq, C], `key` and `value` [B, Lk, C] (value may have its own width Cv); heads are
    /// column blocks of C, so no head transposes are made. The work is tiled flash-attention style: each
    /// (sample, head, block of query rows) is one task, run on one core with single-threaded products, and
    /// walks the keys in blocks with an online softmax (running row max and sum, rescaling the partial
    /// output), so memory stays bounded at any sequence length and the score tile never leaves the cache.
    /// With several stripes, keys and values are gathered from every stripe (global self-attention);
    /// pass `SingleShard()` for cross-attention, whose keys are the text tokens every stripe holds.
    /// With `precision` bf16 the two products take bfloat16 operands (Q, K, V and the softmax weights
    /// rounded) and accumulate in float32; the softmax and the running output stay float32.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false,
                                 precision: Precision = .fp32, collective: any Collective) throws -> Tensor {
        let key = collective.size > 1 ? try collective.allGather(key, axis: 1, kind: .attention) : key
        let value = collective.size > 1 ? try collective.allGather(value, axis: 1, kind: .attention) : value
        return attention(query: query, key: key, value: value, heads: heads, causal: causal, precision: precision)
    }

    /// Attention with every key and value at hand (one node, cross-attention, or keys already gathered).
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false,
                                 precision: Precision = .fp32) -> Tensor {
        let name = key.dim(1) < 128 ? "attention (short keys)" : "attention"
        return profiled(precision == .bf16 ? name + " bf16" : name) {
            tiledAttention(query: query, key: key, value: value, heads: heads, causal: causal, precision: precision)
        }
    }

    static func tiledAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool,
                               precision: Precision = .fp32) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention wants [B, L, C] tensors")
        let (b, lq, c) = (query.dim(0), query.dim(1), query.dim(2))
        let lk = key.dim(1), cv = value.dim(2)
        precondition(key.dim(0) == b && value.dim(0) == b && key.dim(2) == c && value.dim(1) == lk,
                     "attention shapes q \(query.shape) k \(key.shape) v \(value.shape)")
        precondition(c % heads == 0 && cv % heads == 0, "attention: \(c) channels for \(heads) heads")
        precondition(lk > 0, "attention over an empty key sequence")
        if usesNarrowAttention(d: c / heads, dv: cv / heads) {
            return narrowAttention(query: query, key: key, value: value, heads: heads, causal: causal,
                                   precision: precision)
        }
        let geometry = AttentionGeometry(lq: lq, lk: lk, c: c, cv: cv, d: c / heads, dv: cv / heads,
                                         scale: 1 / Float(c / heads).squareRoot(), causal: causal)
        let tile = attentionTile(lk: lk, precision: precision)
        let queryBlocks = (lq + tile.rows - 1) / tile.rows
        let tasks = b * heads * queryBlocks
        let next = Atomic<Int>(0)
        // bfloat16: the operands rounded once per call (PyTorch's bfloat16 attention sees the same values).
        let operands = precision == .bf16 ? BFloat16AttentionOperands(query, key, value, heads: heads) : nil
        return Tensor(shape: [b, lq, cv]) { ob in
            withAttentionOperands(query, key, value, rounded: operands) { base in
                let op = ob.baseAddress!
                withSingleThreadedBLAS {
                    parallelWorkers(min(tasks, ProcessInfoCores.count)) { _ in
                        var scratch = AttentionScratch(rows: tile.rows, keys: tile.keys, outputWidth: geometry.dv)
                        while true {
                            let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                            if t >= tasks { break }
                            let qBlock = t % queryBlocks, h = (t / queryBlocks) % heads
                            let bi = t / (queryBlocks * heads)
                            let q0 = qBlock * tile.rows
                            let g = geometry
                            attentionTask(
                                base.task(sample: bi, head: h, heads: heads, firstQuery: q0, geometry: g),
                                o: op + bi * lq * cv + q0 * cv + h * g.dv,
                                q0: q0, rows: min(tile.rows, lq - q0), keyBlock: tile.keys,
                                geometry: g, scratch: &scratch)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with pointers to the float32 tensors, or to their bfloat16 copies when given.
    static func withAttentionOperands(_ q: Tensor, _ k: Tensor, _ v: Tensor, rounded: BFloat16AttentionOperands?,
                                      _ body: (AttentionOperands) -> Void) {
        if let rounded {
            rounded.q.withUnsafeBufferPointer { qb in
                rounded.k.withUnsafeBufferPointer { kb in
                    rounded.v.withUnsafeBufferPointer { vb in
                        body(.bfloat16(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!,
                                       paddedWidth: rounded.paddedWidth))
                    }
                }
            }
            return
        }
        q.data.withUnsafeBufferPointer { qb in
            k.data.withUnsafeBufferPointer { kb in
                v.data.withUnsafeBufferPointer { vb in
                    body(.float32(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!))
                }
            }
        }
    }

    /// One (sample, head, query block): O = softmax(scale Q K^T) V for `rows` query rows, written into `o`
    /// (row stride cv). float32 products accumulate in `o` itself; bfloat16 ones in the dense scratch rows
    /// (oneDNN's AMX kernels want dense operands), copied to `o` at the end.
    static func attentionTask(_ operands: AttentionOperands, o: UnsafeMutablePointer<Float>, q0: Int, rows: Int,
                              keyBlock: Int, geometry g: AttentionGeometry, scratch: inout AttentionScratch) {
        let s = scratch.scores, rowMax = scratch.rowMax, rowSum = scratch.rowSum
        let (out, ldo): (UnsafeMutablePointer<Float>, Int)
        if case .float32 = operands { (out, ldo) = (o, g.cv) } else { (out, ldo) = (scratch.output, g.dv) }
        for i in 0..<rows { rowMax[i] = -.infinity; rowSum[i] = 0 }
        // Causal: row i (token q0 + i) sees keys 0...q0+i; no key block beyond the last row's keys is needed.
        let keyEnd = g.causal ? min(g.lk, q0 + rows) : g.lk
        var k0 = 0
        let weights: UnsafeMutablePointer<UInt16>?
        if case .bfloat16 = operands { weights = scratch.weights } else { weights = nil }
        while k0 < keyEnd {
            let n = min(keyBlock, keyEnd - k0)
            switch operands {
            case let .float32(q, k, _):
                // oneDNN's float32 product (see `float32GEMMOnOneThread`), as for the weighted sum below.
                float32GEMMOnOneThread(transB: true, m: rows, n: n, k: g.d, alpha: g.scale, a: q, lda: g.c,
                                       b: k + k0 * g.c, ldb: g.c, c: s, ldc: keyBlock)
            case let .bfloat16(q, k, _, dp):
                // Unscaled (a oneDNN output scale leaves its AMX path): scaled in float32 below.
                bfloat16GEMM(transB: true, m: rows, n: n, k: dp, a: q, lda: dp, b: k + k0 * dp, ldb: dp, c: s,
                             ldc: keyBlock, split: false)
            }
            for i in 0..<rows {
                let row = s + i * keyBlock
                // bfloat16: this block's softmax weights, rounded as PyTorch's bfloat16 attention rounds them.
                let rowWeights = weights.map { $0 + i * n }
                var visible = n
                if g.causal {
                    visible = max(0, min(n, q0 + i + 1 - k0))
                    if visible < n {
                        (row + visible).update(repeating: 0, count: n - visible)
                        rowWeights.map { ($0 + visible).update(repeating: 0, count: n - visible) }
                    }
                }
                // bfloat16's products come unscaled: the scale is applied here, in float32, as each score is read.
                let scale: Float = weights == nil ? 1 : g.scale
                let blockMax = scaledMax(row, visible, scale: scale)
                let oldMax = rowMax[i]
                let newMax = max(oldMax, blockMax)
                if newMax == -.infinity {
                    // Nothing visible yet (or all scores -inf): this block contributes nothing.
                    row.update(repeating: 0, count: visible)
                    rowWeights.map { $0.update(repeating: 0, count: visible) }
                    continue
                }
                let sum = rowWeights.map { expShifted(row, visible, scale: scale, shift: newMax, toBFloat16: $0) }
                    ?? expShiftedInPlace(row, visible, shift: newMax)
                if k0 > 0 && oldMax < newMax {
                    // Earlier blocks were exponentiated against a smaller maximum: rescale them.
                    let alpha = oldMax == -.infinity ? 0 : fastExp(oldMax - newMax)
                    rowSum[i] *= alpha
                    let orow = out + i * ldo
                    for j in 0..<g.dv { orow[j] *= alpha }
                }
                rowSum[i] += sum
                rowMax[i] = newMax
            }
            // The first block initialises the output rows (beta 0); later ones accumulate.
            switch operands {
            case let .float32(_, _, v):
                float32GEMMOnOneThread(m: rows, n: g.dv, k: n, a: s, lda: keyBlock, b: v + k0 * g.cv, ldb: g.cv,
                                       beta: k0 == 0 ? 0 : 1, c: out, ldc: ldo)
            case let .bfloat16(_, _, v, _):
                bfloat16GEMM(m: rows, n: g.dv, k: n, a: scratch.weights, lda: n, b: v + k0 * g.dv, ldb: g.dv,
                             beta: k0 == 0 ? 0 : 1, c: out, ldc: ldo, split: false)
            }
            k0 += n
        }
        for i in 0..<rows {
            let inv = rowSum[i] > 0 ? 1 / rowSum[i] : 0
            let src = out + i * ldo, dst = o + i * g.cv
            for j in 0..<g.dv { dst[j] = src[j] * inv }
        }
    }
}

/// Sizes of one attention call, shared by its tasks.
struct AttentionGeometry: Sendable {
    var lq: Int, lk: Int, c: Int, cv: Int, d: Int, dv: Int
    var scale: Float
    var causal: Bool
}

/// One worker's score tile and per-row softmax state.
struct AttentionScratch: ~Copyable {
    let scores: UnsafeMutablePointer<Float>
    let rowMax: UnsafeMutablePointer<Float>
    let rowSum: UnsafeMutablePointer<Float>
    /// The scores' softmax weights rounded to bfloat16, for bfloat16 attention.
    let weights: UnsafeMutablePointer<UInt16>

    /// A query block's output rows, dense, for bfloat16 products.
    let output: UnsafeMutablePointer<Float>

    init(rows: Int, keys: Int, outputWidth: Int) {
        scores = .allocate(capacity: rows * keys)
        weights = .allocate(capacity: rows * keys)
        output = .allocate(capacity: rows * outputWidth)
        rowMax = .allocate(capacity: rows)
        rowSum = .allocate(capacity: rows)
    }

    deinit {
        scores.deallocate()
        rowMax.deallocate()
        rowSum.deallocate()
        weights.deallocate()
        output.deallocate()
    }
}

