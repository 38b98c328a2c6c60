import HiDiffCore

/// diffusers' `BasicTransformerBlock` (norm_type "layer_norm", GEGLU feed-forward): pre-LayerNorm
/// self-attention, cross-attention to the text tokens and feed-forward, each added back residually.
public struct BasicTransformerBlock: Sendable {
    public var path: TransformerBlockPath
    public var norm1Weight: Tensor, norm1Bias: Tensor
    public var attn1: CrossAttention
    public var norm2Weight: Tensor, norm2Bias: Tensor
    public var attn2: CrossAttention
    public var norm3Weight: Tensor, norm3Bias: Tensor
    public var ff: GEGLUFeedForward
    /// BasicTransformerBlock's `norm_eps` default (the U-Net never overrides it).
    public var eps: Float = 1e-5

    public init(_ w: Weights, path: TransformerBlockPath, dim: Int, heads: Int, headDim: Int,
                crossAttentionDim: Int) throws {
        self.path = path
        norm1Weight = try w("norm1.weight", shape: [dim])
        norm1Bias = try w("norm1.bias", shape: [dim])
        attn1 = try CrossAttention(w.scoped("attn1"), queryDim: dim, contextDim: nil, heads: heads, headDim: headDim)
        norm2Weight = try w("norm2.weight", shape: [dim])
        norm2Bias = try w("norm2.bias", shape: [dim])
        attn2 = try CrossAttention(w.scoped("attn2"), queryDim: dim, contextDim: crossAttentionDim,
                                   heads: heads, headDim: headDim)
        norm3Weight = try w("norm3.weight", shape: [dim])
        norm3Bias = try w("norm3.bias", shape: [dim])
        ff = try GEGLUFeedForward(w.scoped("ff"), dim: dim)
    }

    /// `x` [B, height * width, dim] tokens, `context` [B, Lc, crossAttentionDim] -> same shape as `x`.
    public func callAsFunction(_ x: Tensor, height: Int, width: Int, context: Tensor,
                               call: UNetCallContext) throws -> Tensor {
        let n1 = x.layerNorm(weight: norm1Weight, bias: norm1Bias, eps: eps)
        var h = try x + selfAttention(n1, height: height, width: width, call: call)
        let n2 = h.layerNorm(weight: norm2Weight, bias: norm2Bias, eps: eps)
        h = h + attn2(n2, context: context)
        let n3 = h.layerNorm(weight: norm3Weight, bias: norm3Bias, eps: eps)
        return h + ff(n3)
    }

    /// `attn1`, or the call's override for this block (MSW-MSA) when it supplies one.
    func selfAttention(_ tokens: Tensor, height: Int, width: Int, call: UNetCallContext) throws -> Tensor {
        if let override = call.selfAttentionOverride {
            let request = SelfAttentionRequest(
                path: path, tokens: tokens, height: height, width: width, attention: attn1,
                callIndex: call.callIndex, callCount: call.callCount, collective: call.collective)
            if let out = try override(request) {
                precondition(out.shape == tokens.shape,
                             "self-attention override for \(path) returned \(out.shape), expected \(tokens.shape)")
                return out
            }
        }
        return try attn1(tokens, collective: call.collective)
    }
}
