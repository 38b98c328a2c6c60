extension CLIPTextConfig: ConfigValueChecking {
    /// Range-checks the sizes (positive, at most 2^20) and `layer_norm_eps` (finite, in (0, 1)).
    ///
    /// - Parameter file: the config file named in the error.
    /// - Throws: `ModelConfigError.outOfRange` naming the file and the first bad field.
    public func checkValues(file: String) throws {
        let check = ConfigValueChecker(file: file)
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                               ("intermediate_size", intermediateSize), ("projection_dim", projectionDim),
                               ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                               ("max_position_embeddings", maxPositionEmbeddings)] {
            try check.positive(field, value)
        }
        try check.epsilon("layer_norm_eps", layerNormEps)
    }
}
