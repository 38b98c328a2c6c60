import HiDiffCore
import HiDiffModels

/// MSW-MSA: the self-attention (`attn1`) of the family's window blocks runs inside a shifted 2x2 grid of
/// half-size windows instead of over the whole map, at every step and every resolution
/// (hidiffusion-spec.md §2; 5 blocks for SD, 10 for SDXL and Turbo). Norms, cross-attention and the
/// feed-forward stay vanilla; the block adds the result to its residual as usual.
///
/// Each block call gets its own shift bucket from `shift` (by call index and the block's ordinal in
/// `HiDiffusionLayout.windowBlocks`); all batch items of a call share it, so classifier-free guidance's
/// halves see the same windows.
public struct WindowAttention: Sendable {
    /// Window block -> its ordinal.
    public let ordinals: [TransformerBlockPath: Int]
    public var shift: WindowShiftSource

    public init(family: ModelFamily, shift: WindowShiftSource) {
        let blocks = HiDiffusionLayout(family: family).windowBlocks
        ordinals = Dictionary(uniqueKeysWithValues: blocks.enumerated().map { ($1, $0) })
        self.shift = shift
    }

    /// The override to put in `UNetCallContext.selfAttentionOverride`.
    public var override: SelfAttentionOverride {
        let me = self
        return { try me.attention($0) }
    }

    /// The window attention output for a window block's request; nil (vanilla global attention) for others.
    ///
    /// With several stripes each rank fetches the map rows of the window rows its own rows fall in (windows
    /// cross stripe borders and, after a shift, wrap around the whole map) and attends only its own rows'
    /// queries (`StripedWindowAttention`); an odd map, resized as a whole, is gathered and computed in full
    /// by every rank.
    public func attention(_ request: SelfAttentionRequest) throws -> Tensor? {
        guard let ordinal = ordinals[request.path] else { return nil }
        let q = shift.bucket(callIndex: request.callIndex, ordinal: ordinal)
        let collective = request.collective
        var tokens = request.tokens
        var height = request.height
        let width = request.width
        var rows = 0..<height
        if collective.size > 1 {
            let counts = try collective.stripeRows(height)
            let offset = counts[..<collective.rank].reduce(0, +)
            rows = offset..<(offset + height)
            let grid = WindowPartition(height: counts.reduce(0, +), width: width, bucket: q)
            if !grid.resizes {
                var start = 0
                let needs = counts.map { n -> [Range<Int>] in
                    defer { start += n }
                    return grid.rowsNeeded(byStripe: start..<(start + n))
                }
                let plan = try RowFetchPlan(stripeRows: counts, needs: needs)
                let (b, c) = (tokens.dim(0), tokens.dim(2))
                let held = try collective.fetchRows(tokens.reshaped([b, height, width * c]), axis: 1, plan: plan,
                                                    kind: .attention)
                return StripedWindowAttention(grid: grid, rowOffset: offset, rows: height,
                                              rowsHeld: plan.needs[collective.rank])(
                    held.reshaped([b, -1, c]), attention: request.attention)
            }
            // Odd maps are resized as a whole around the windows: every rank computes them all then.
            tokens = try collective.allGather(tokens, axis: 1, kind: .attention)
            height = grid.height
        }
        let grid = WindowPartition(height: height, width: width, bucket: q)
        // The windows hold whole rows of the gathered map: nothing more to fetch.
        let windows = try request.attention(grid.partition(tokens), collective: SingleShard())
        let out = grid.reverse(windows)
        return collective.size > 1 ? out.slice(axis: 1, (rows.lowerBound * width)..<(rows.upperBound * width)) : out
    }
}
