import HiDiffCore

/// One pre-LayerNorm transformer block of the CLIP text encoder (transformers' `CLIPEncoderLayer`):
///
///     x = x + out_proj(causal_attention(layer_norm1(x)))
///     x = x + fc2(act(fc1(layer_norm2(x))))
struct CLIPEncoderLayer: Sendable {
    let norm1Weight: Tensor, norm1Bias: Tensor
    let queryWeight: Tensor, queryBias: Tensor
    let keyWeight: Tensor, keyBias: Tensor
    let valueWeight: Tensor, valueBias: Tensor
    let outWeight: Tensor, outBias: Tensor
    let norm2Weight: Tensor, norm2Bias: Tensor
    let fc1Weight: Tensor, fc1Bias: Tensor
    let fc2Weight: Tensor, fc2Bias: Tensor
    let heads: Int
    let eps: Float
    let activation: CLIPActivation

    /// Loads `layer_norm1`, `self_attn.{q,k,v,out}_proj`, `layer_norm2`, `mlp.fc1`, `mlp.fc2` from `weights`
    /// (scoped to `text_model.encoder.layers.<i>`).
    init(config: CLIPTextConfig, weights: Weights) throws {
        let c = config.hiddenSize, f = config.intermediateSize
        norm1Weight = try weights("layer_norm1.weight", shape: [c])
        norm1Bias = try weights("layer_norm1.bias", shape: [c])
        let attn = weights.scoped("self_attn")
        queryWeight = try attn("q_proj.weight", shape: [c, c])
        queryBias = try attn("q_proj.bias", shape: [c])
        keyWeight = try attn("k_proj.weight", shape: [c, c])
        keyBias = try attn("k_proj.bias", shape: [c])
        valueWeight = try attn("v_proj.weight", shape: [c, c])
        valueBias = try attn("v_proj.bias", shape: [c])
        outWeight = try attn("out_proj.weight", shape: [c, c])
        outBias = try attn("out_proj.bias", shape: [c])
        norm2Weight = try weights("layer_norm2.weight", shape: [c])
        norm2Bias = try weights("layer_norm2.bias", shape: [c])
        let mlp = weights.scoped("mlp")
        fc1Weight = try mlp("fc1.weight", shape: [f, c])
        fc1Bias = try mlp("fc1.bias", shape: [f])
        fc2Weight = try mlp("fc2.weight", shape: [c, f])
        fc2Bias = try mlp("fc2.bias", shape: [c])
        heads = config.numAttentionHeads
        eps = Float(config.layerNormEps)
        activation = config.hiddenAct
    }

    /// `x` is [B, L, C]; returns the block's output, same shape.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x.layerNorm(weight: norm1Weight, bias: norm1Bias, eps: eps)
        let q = h.linear(weight: queryWeight, bias: queryBias)
        let k = h.linear(weight: keyWeight, bias: keyBias)
        let v = h.linear(weight: valueWeight, bias: valueBias)
        let attended = Tensor.attention(query: q, key: k, value: v, heads: heads, causal: true)
        let x = x + attended.linear(weight: outWeight, bias: outBias)
        let m = x.layerNorm(weight: norm2Weight, bias: norm2Bias, eps: eps)
        let hidden = activation(m.linear(weight: fc1Weight, bias: fc1Bias))
        return x + hidden.linear(weight: fc2Weight, bias: fc2Bias)
    }
}
