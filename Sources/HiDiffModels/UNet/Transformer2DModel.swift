import HiDiffCore

/// diffusers' `Transformer2DModel` for continuous inputs: GroupNorm (eps 1e-6), `proj_in` (1x1 conv, or a
/// linear layer on tokens with `use_linear_projection`), the transformer blocks, `proj_out`, residual.
public struct Transformer2DModel: Sendable {
    public var normWeight: Tensor, normBias: Tensor
    public var projInWeight: LayerWeight, projInBias: Tensor
    public var blocks: [BasicTransformerBlock]
    public var projOutWeight: LayerWeight, projOutBias: Tensor
    public var groups: Int
    public var useLinearProjection: Bool
    public var eps: Float = 1e-6

    /// `stage`/`attention` locate this model (for the blocks' `TransformerBlockPath`s).
    public init(_ w: Weights, stage: TransformerBlockPath.Stage, attention: Int, channels: Int, heads: Int,
                layers: Int, crossAttentionDim: Int, groups: Int, useLinearProjection: Bool) throws {
        guard channels % heads == 0 else {
            throw ModelConfigError.invalid(field: "attention_head_dim",
                                           reason: "\(heads) heads do not divide \(channels) channels")
        }
        let headDim = channels / heads
        let inner = heads * headDim
        normWeight = try w("norm.weight", shape: [channels])
        normBias = try w("norm.bias", shape: [channels])
        let projInShape = useLinearProjection ? [inner, channels] : [inner, channels, 1, 1]
        let projOutShape = useLinearProjection ? [channels, inner] : [channels, inner, 1, 1]
        projInWeight = try w.matrix("proj_in.weight", shape: projInShape)
        projInBias = try w("proj_in.bias", shape: [inner])
        blocks = try (0..<layers).map { i in
            try BasicTransformerBlock(
                w.scoped("transformer_blocks").scoped("\(i)"),
                path: TransformerBlockPath(stage, attention: attention, block: i),
                dim: inner, heads: heads, headDim: headDim, crossAttentionDim: crossAttentionDim)
        }
        projOutWeight = try w.matrix("proj_out.weight", shape: projOutShape)
        projOutBias = try w("proj_out.bias", shape: [channels])
        self.groups = groups
        self.useLinearProjection = useLinearProjection
    }

    /// `x` [B, C, H, W], `context` [B, Lc, crossAttentionDim] -> [B, C, H, W].
    public func callAsFunction(_ x: Tensor, context: Tensor, call: UNetCallContext) throws -> Tensor {
        let (height, width) = (x.dim(2), x.dim(3))
        let normed = try x.groupNorm(groups: groups, weight: normWeight, bias: normBias, eps: eps,
                                 collective: call.collective)
        var tokens: Tensor
        if useLinearProjection {
            tokens = normed.nchwToTokens().linear(weight: projInWeight, bias: projInBias)
        } else {
            tokens = try normed.conv2d(weight: projInWeight, bias: projInBias, collective: call.collective).nchwToTokens()
        }
        for block in blocks {
            tokens = try block(tokens, height: height, width: width, context: context, call: call)
        }
        let out: Tensor
        if useLinearProjection {
            out = tokens.linear(weight: projOutWeight, bias: projOutBias).tokensToNCHW(height: height, width: width)
        } else {
            out = try tokens.tokensToNCHW(height: height, width: width)
                .conv2d(weight: projOutWeight, bias: projOutBias, collective: call.collective)
        }
        return out + x
    }
}
