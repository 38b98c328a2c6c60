import HiDiffCore

/// diffusers' `Attention` as `BasicTransformerBlock` uses it: to_q/to_k/to_v (bias only with
/// `attention_bias`), scaled dot-product attention over `heads`, then `to_out.0` (with bias).
public struct CrossAttention: Sendable {
    public var toQ: LayerWeight, toK: LayerWeight, toV: LayerWeight
    public var toQBias: Tensor?, toKBias: Tensor?, toVBias: Tensor?
    public var toOut: LayerWeight, toOutBias: Tensor
    public var heads: Int

    /// `contextDim` is nil for self-attention (keys from the queries' own tokens).
    public init(_ w: Weights, queryDim: Int, contextDim: Int?, heads: Int, headDim: Int, qkvBias: Bool = false) throws {
        let inner = heads * headDim
        let kvDim = contextDim ?? queryDim
        toQ = try w.matrix("to_q.weight", shape: [inner, queryDim])
        toK = try w.matrix("to_k.weight", shape: [inner, kvDim])
        toV = try w.matrix("to_v.weight", shape: [inner, kvDim])
        if qkvBias {
            toQBias = try w("to_q.bias", shape: [inner])
            toKBias = try w("to_k.bias", shape: [inner])
            toVBias = try w("to_v.bias", shape: [inner])
        }
        toOut = try w.matrix("to_out.0.weight", shape: [queryDim, inner])
        toOutBias = try w("to_out.0.bias", shape: [queryDim])
        self.heads = heads
    }

    /// Self-attention over `x` [B, L, C] when `context` is nil, else cross-attention to `context` [B, Lc, Cc].
    ///
    /// `collective` reaches other stripes for self-attention's keys and values; cross-attention keys are
    /// the text tokens every stripe already holds, so it never gathers.
    public func callAsFunction(_ x: Tensor, collective: any Collective) throws -> Tensor {
        let q = x.linear(weight: toQ, bias: toQBias)
        let k = x.linear(weight: toK, bias: toKBias)
        let v = x.linear(weight: toV, bias: toVBias)
        let o = try Tensor.attention(query: q, key: k, value: v, heads: heads, precision: toQ.precision,
                                             collective: collective)
        return o.linear(weight: toOut, bias: toOutBias)
    }

    /// Cross-attention of `x` [B, L, C] to `context` [B, Lc, Cc]: the keys are text tokens every stripe
    /// holds, so nothing is gathered.
    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let q = x.linear(weight: toQ, bias: toQBias)
        let k = context.linear(weight: toK, bias: toKBias)
        let v = context.linear(weight: toV, bias: toVBias)
        let o = Tensor.attention(query: q, key: k, value: v, heads: heads, precision: toQ.precision)
        return o.linear(weight: toOut, bias: toOutBias)
    }
}
