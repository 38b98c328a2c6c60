import HiDiffCore

/// The VAE mid block's `Attention`: GroupNorm, single-head self-attention over all pixels (to_q/to_k/to_v
/// with bias), to_out, residual, divided by `rescale_output_factor` (1). Also reads the legacy names
/// (query/key/value/proj_attn) that diffusers converts on load.
public struct VAEAttentionBlock: Sendable {
    public var normWeight: Tensor, normBias: Tensor
    public var toQ: LayerWeight, toQBias: Tensor
    public var toK: LayerWeight, toKBias: Tensor
    public var toV: LayerWeight, toVBias: Tensor
    public var toOut: LayerWeight, toOutBias: Tensor
    public var groups: Int
    public var eps: Float
    public var heads: Int = 1
    public var rescaleOutputFactor: Float = 1

    public init(_ w: Weights, channels: Int, groups: Int, eps: Float) throws {
        normWeight = try w("group_norm.weight", shape: [channels])
        normBias = try w("group_norm.bias", shape: [channels])
        let legacy = !w.contains("to_q.weight") && w.contains("query.weight")
        let names = legacy ? ["query", "key", "value", "proj_attn"] : ["to_q", "to_k", "to_v", "to_out.0"]
        let square = [channels, channels]
        toQ = try w.matrix("\(names[0]).weight", shape: square)
        toQBias = try w("\(names[0]).bias", shape: [channels])
        toK = try w.matrix("\(names[1]).weight", shape: square)
        toKBias = try w("\(names[1]).bias", shape: [channels])
        toV = try w.matrix("\(names[2]).weight", shape: square)
        toVBias = try w("\(names[2]).bias", shape: [channels])
        toOut = try w.matrix("\(names[3]).weight", shape: square)
        toOutBias = try w("\(names[3]).bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    /// [N, C, H, W] -> [N, C, H, W].
    public func callAsFunction(_ x: Tensor, collective: any Collective) throws -> Tensor {
        let (height, width) = (x.dim(2), x.dim(3))
        let tokens = try x.groupNorm(groups: groups, weight: normWeight, bias: normBias, eps: eps,
                                 collective: collective).nchwToTokens()
        let q = tokens.linear(weight: toQ, bias: toQBias)
        let k = tokens.linear(weight: toK, bias: toKBias)
        let v = tokens.linear(weight: toV, bias: toVBias)
        let o = try Tensor.attention(query: q, key: k, value: v, heads: heads, precision: toQ.precision,
                                     collective: collective)
            .linear(weight: toOut, bias: toOutBias)
        let sum = o.tokensToNCHW(height: height, width: width) + x
        return rescaleOutputFactor == 1 ? sum : sum / rescaleOutputFactor
    }
}
