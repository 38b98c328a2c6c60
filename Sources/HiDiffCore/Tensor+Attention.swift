import CVectorKernels
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
    ///
    /// AMX tiles (`tiles`) take rows and keys in multiples of 32: both are rounded up.
    static func attentionTile(lk: Int, precision: Precision = .fp32, tiles: Bool = false) -> (rows: Int, keys: Int) {
        let keys = precision == .bf16 && lk > 1024 ? 512 : min(lk, 1024)
        let rows = max(16, min(512, (1 << 18) / max(keys, 1)) / 16 * 16)
        if tiles { return ((rows + 31) / 32 * 32, (keys + 31) / 32 * 32) }
        return (rows, keys)
    }

    /// Query rows AMX tiles take through both products and the softmax at a time (two tiles of 16): their
    /// scores (32 x keyBlock floats) stay in the core's nearest caches.
    static let tileGroupRows = 32

    /// Whether bfloat16 attention runs its products on AMX tiles (`hd_amx_scores`): where the CPU has AMX (heads
    /// at most 16 wide take the narrow kernel either way). Elsewhere oneDNN's matmul runs them (AVX512-BF16, or
    /// its conversions).
    public static var attentionUsesTiles: Bool { hd_amx_available() != 0 }

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
    /// `tiles` (bfloat16 only) runs the products on AMX tiles (true) or oneDNN's matmul (false); nil, the
    /// default, takes tiles where the CPU has them (`attentionUsesTiles`). Tests compare the two.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false,
                                 precision: Precision = .fp32, tiles: Bool? = nil) -> Tensor {
        let name = key.dim(1) < 128 ? "attention (short keys)" : "attention"
        return profiled(precision == .bf16 ? name + " bf16" : name) {
            tiledAttention(query: query, key: key, value: value, heads: heads, causal: causal, precision: precision,
                           tiles: tiles)
        }
    }

    /// `tiles` (bfloat16 only) chooses AMX tiles or oneDNN's products; nil takes `attentionUsesTiles`.
    static func tiledAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool,
                               precision: Precision = .fp32, tiles: Bool? = nil) -> Tensor {
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
        let tiles = precision == .bf16 && (tiles ?? attentionUsesTiles)
        precondition(!tiles || attentionUsesTiles, "AMX tiles asked for on a CPU or process without them")
        let tile = attentionTile(lk: lk, precision: precision, tiles: tiles)
        let queryBlocks = (lq + tile.rows - 1) / tile.rows
        let tasks = b * heads * queryBlocks
        let next = Atomic<Int>(0)
        // bfloat16: the operands rounded once per call (PyTorch's bfloat16 attention sees the same values).
        let operands = precision == .bf16 ? BFloat16AttentionOperands(query, key, value, heads: heads, tiles: tiles)
            : nil
        return Tensor(shape: [b, lq, cv]) { ob in
            withAttentionOperands(query, key, value, rounded: operands) { base in
                let op = ob.baseAddress!
                withSingleThreadedBLAS {
                    parallelWorkers(min(tasks, ProcessInfoCores.count)) { _ in
                        var scratch = AttentionScratch(rows: tile.rows, scoreRows: tiles ? tileGroupRows : tile.rows,
                                                       keys: tile.keys,
                                                       outputWidth: operands?.tiles?.paddedValueWidth ?? geometry.dv)
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
                        if let tiles = rounded.tiles {
                            body(.tiles(q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!,
                                        paddedWidth: rounded.paddedWidth, paddedValueWidth: tiles.paddedValueWidth,
                                        paddedQueries: tiles.paddedQueries, paddedKeys: tiles.paddedKeys))
                            return
                        }
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
        switch operands {
        case .float32: (out, ldo) = (o, g.cv)
        case .bfloat16: (out, ldo) = (scratch.output, g.dv)
        case let .tiles(_, _, _, _, dvp, _, _): (out, ldo) = (scratch.output, dvp)
        }
        for i in 0..<rows { rowMax[i] = -.infinity; rowSum[i] = 0 }
        // Causal: row i (token q0 + i) sees keys 0...q0+i; no key block beyond the last row's keys is needed.
        let keyEnd = g.causal ? min(g.lk, q0 + rows) : g.lk
        let weights: UnsafeMutablePointer<UInt16>?
        if case .float32 = operands { weights = nil } else { weights = scratch.weights }
        // AMX tiles take `tileGroupRows` query rows at a time; oneDNN's products take the whole block at once.
        let groupRows: Int
        if case .tiles = operands { groupRows = tileGroupRows } else { groupRows = max(rows, 1) }
        var k0 = 0
        while k0 < keyEnd {
            let n = min(keyBlock, keyEnd - k0)
            // Tiles take keys 32 at a time: the padding keys' weights are zero, so their (zero) values add nothing.
            var weightStride = n
            if case .tiles = operands { weightStride = (n + 31) / 32 * 32 }
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + groupRows)
                switch operands {
                case let .float32(q, k, _):
                    // oneDNN's float32 product (see `float32GEMMOnOneThread`), as for the weighted sum below.
                    float32GEMMOnOneThread(transB: true, m: r1 - r0, n: n, k: g.d, alpha: g.scale, a: q + r0 * g.c,
                                           lda: g.c, b: k + k0 * g.c, ldb: g.c, c: s, ldc: keyBlock)
                case let .bfloat16(q, k, _, dp):
                    // Unscaled (a oneDNN output scale leaves its AMX path): scaled in float32 below.
                    bfloat16GEMM(transB: true, m: r1 - r0, n: n, k: dp, a: q + r0 * dp, lda: dp, b: k + k0 * dp,
                                 ldb: dp, c: s, ldc: keyBlock, split: false)
                case let .tiles(q, k, _, dp, _, _, _):
                    // Query rows past the last are zero padding (`BFloat16AttentionOperands`).
                    countProductFlops(2 * (r1 - r0) * n * dp)  // as oneDNN's path counts: rows and keys unpadded
                    let done = hd_amx_scores(q + r0 * dp, groupRows, dp, k + k0 * dp, weightStride, s, keyBlock)
                    precondition(done != 0, "AMX tiles went away")
                }
                for i in r0..<r1 {
                    let row = s + (i - r0) * keyBlock
                    // bfloat16: this block's softmax weights, rounded as PyTorch's bfloat16 attention rounds them.
                    let rowWeights = weights.map { $0 + (i - r0) * weightStride }
                    if let rowWeights, weightStride > n { (rowWeights + n).update(repeating: 0, count: weightStride - n) }
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
                    float32GEMMOnOneThread(m: r1 - r0, n: g.dv, k: n, a: s, lda: keyBlock, b: v + k0 * g.cv,
                                           ldb: g.cv, beta: k0 == 0 ? 0 : 1, c: out + r0 * ldo, ldc: ldo)
                case let .bfloat16(_, _, v, _):
                    bfloat16GEMM(m: r1 - r0, n: g.dv, k: n, a: scratch.weights, lda: n, b: v + k0 * g.dv, ldb: g.dv,
                                 beta: k0 == 0 ? 0 : 1, c: out + r0 * ldo, ldc: ldo, split: false)
                case let .tiles(_, _, v, _, dvp, _, _):
                    // Weights rows past the last query row are zero (`AttentionScratch`) or finite leftovers of
                    // earlier rows; their outputs land in scratch rows that are never read.
                    countProductFlops(2 * (r1 - r0) * n * g.dv)
                    let done = hd_amx_weighted_sum(scratch.weights, groupRows, weightStride, v + k0 * dvp,
                                                   weightStride, dvp, out + r0 * ldo, ldo, k0 == 0 ? 0 : 1)
                    precondition(done != 0, "AMX tiles went away")
                }
                r0 = r1
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

    /// `scoreRows`: the query rows one product step takes (all `rows`, or a group of 32 on AMX tiles).
    init(rows: Int, scoreRows: Int, keys: Int, outputWidth: Int) {
        scores = .allocate(capacity: scoreRows * keys)
        weights = .allocate(capacity: scoreRows * keys)
        // Rows past a task's last query (AMX tiles compute 32 at a time) are read but never used: zeros.
        weights.initialize(repeating: 0, count: scoreRows * keys)
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

