import HiDiffCore

/// transformers' `CLIPTextModel` / `CLIPTextModelWithProjection` forward pass in float32: token plus
/// position embeddings, `num_hidden_layers` causal pre-LN blocks, `final_layer_norm`, the pooled output at
/// each sequence's end token, and (when the checkpoint has one) `text_projection`.
///
/// Weights are named as transformers saves them (`text_model.embeddings.token_embedding.weight`,
/// `text_model.encoder.layers.<i>.self_attn.q_proj.weight`, ..., `text_projection.weight`) and are all
/// loaded by `init`, so a wrong checkpoint fails before any compute.
public struct CLIPTextModel: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [CLIPEncoderLayer]
    let finalNormWeight: Tensor
    let finalNormBias: Tensor
    /// `text_projection.weight` [projection_dim, hidden_size] (no bias), if the checkpoint has it.
    public let textProjection: Tensor?

    /// Builds the encoder from a checkpoint's root `weights` (the tensors of `model.safetensors`).
    ///
    /// `text_projection.weight` is loaded when present, and required when `config.architectures` names
    /// `CLIPTextModelWithProjection`.
    /// - Throws: `ModelConfigError` for an unusable config, `WeightError` naming a missing or misshapen tensor.
    public init(config: CLIPTextConfig, weights: Weights) throws {
        try config.validate()
        let c = config.hiddenSize
        let text = weights.scoped("text_model")
        let embeddings = text.scoped("embeddings")
        tokenEmbedding = try embeddings("token_embedding.weight", shape: [config.vocabSize, c])
        positionEmbedding = try embeddings("position_embedding.weight", shape: [config.maxPositionEmbeddings, c])
        let encoder = text.scoped("encoder.layers")
        layers = try (0..<config.numHiddenLayers).map { i in
            try CLIPEncoderLayer(config: config, weights: encoder.scoped(String(i)))
        }
        finalNormWeight = try text("final_layer_norm.weight", shape: [c])
        finalNormBias = try text("final_layer_norm.bias", shape: [c])
        let projectionShape = [config.projectionDim, c]
        textProjection = config.hasProjection
            ? try weights("text_projection.weight", shape: projectionShape)
            : try weights.optional("text_projection.weight", shape: projectionShape)
        self.config = config
    }

    /// Runs the encoder on a batch of equally long id sequences (e.g. `CLIPTokenizer.encode` results).
    ///
    /// - Parameter outputHiddenStates: also return every block's un-normalised output (for SDXL's
    ///   penultimate-layer conditioning or diffusers' `clip_skip`).
    /// - Throws: `CLIPTextModelError` for empty, ragged, too long or out-of-vocabulary input.
    public func callAsFunction(_ inputIDs: [[Int]], outputHiddenStates: Bool = false) throws -> CLIPTextModelOutput {
        let batch = inputIDs.count
        guard batch > 0, let length = inputIDs.first?.count, length > 0 else { throw CLIPTextModelError.emptyInput }
        guard inputIDs.allSatisfy({ $0.count == length }) else {
            throw CLIPTextModelError.raggedBatch(lengths: inputIDs.map(\.count))
        }
        guard length <= config.maxPositionEmbeddings else {
            throw CLIPTextModelError.sequenceTooLong(length: length,
                                                     maxPositionEmbeddings: config.maxPositionEmbeddings)
        }
        if let bad = inputIDs.joined().first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw CLIPTextModelError.tokenOutOfRange(id: bad, vocabSize: config.vocabSize)
        }

        var x = embed(inputIDs, length: length)
        var hiddenStates: [Tensor] = outputHiddenStates ? [x] : []
        for layer in layers {
            x = layer(x)
            if outputHiddenStates { hiddenStates.append(x) }
        }
        let last = finalLayerNorm(x)
        let pooled = pool(last, inputIDs: inputIDs)
        let embeds = textProjection.map { pooled.linear(weight: $0, bias: nil) }
        return CLIPTextModelOutput(lastHiddenState: last, pooledOutput: pooled, textEmbeds: embeds,
                                   hiddenStates: hiddenStates)
    }

    /// `final_layer_norm`, for callers that pick an earlier hidden state (diffusers' `clip_skip`).
    public func finalLayerNorm(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: finalNormWeight, bias: finalNormBias, eps: Float(config.layerNormEps))
    }

    /// The sequence position transformers pools at: argmax of the ids when `eos_token_id` is 2 (the value
    /// in SD's configs, from before transformers fixed it; the first maximum wins), else the first
    /// occurrence of `eos_token_id` (position 0 when absent, as torch's argmax of all zeros).
    public func pooledPosition(_ ids: [Int]) -> Int {
        guard let eos = config.eosTokenID, eos != 2 else {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: eos) ?? 0
    }

    /// token_embedding[ids] + position_embedding[0..<L]: [B, L, C].
    private func embed(_ inputIDs: [[Int]], length: Int) -> Tensor {
        let c = config.hiddenSize
        return Tensor(shape: [inputIDs.count, length, c]) { out in
            tokenEmbedding.data.withUnsafeBufferPointer { tok in
                positionEmbedding.data.withUnsafeBufferPointer { pos in
                    for (b, ids) in inputIDs.enumerated() {
                        for (t, id) in ids.enumerated() {
                            let o = out.baseAddress! + (b * length + t) * c
                            let e = tok.baseAddress! + id * c, p = pos.baseAddress! + t * c
                            for j in 0..<c { o[j] = e[j] + p[j] }
                        }
                    }
                }
            }
        }
    }

    /// Rows of `last` [B, L, C] at each sequence's pooled position: [B, C].
    private func pool(_ last: Tensor, inputIDs: [[Int]]) -> Tensor {
        let c = config.hiddenSize, length = last.dim(1)
        return Tensor(shape: [inputIDs.count, c]) { out in
            last.data.withUnsafeBufferPointer { src in
                for (b, ids) in inputIDs.enumerated() {
                    let row = src.baseAddress! + (b * length + pooledPosition(ids)) * c
                    (out.baseAddress! + b * c).update(from: row, count: c)
                }
            }
        }
    }
}
