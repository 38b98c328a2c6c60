extension UNetConfig: ConfigValueChecking {
    /// Largest `sample_size` accepted (latent cells per side; 512 is 4096 px at 8x).
    public static let maxSampleSize = 2048

    /// Range-checks every numeric field so a bad config is refused at load instead of trapping (division by
    /// zero groups, negative ranges) or producing black images (a zero epsilon).
    ///
    /// - Parameter file: the config file named in the error.
    /// - Throws: `ModelConfigError.outOfRange` naming the file and the first bad field.
    public func checkValues(file: String) throws {
        let check = ConfigValueChecker(file: file)
        if let sampleSize, !(1...Self.maxSampleSize).contains(sampleSize) {
            throw check.fail("sample_size", "\(sampleSize)", "1...\(Self.maxSampleSize) latent cells")
        }
        try check.positive("in_channels", inChannels)
        try check.positive("out_channels", outChannels)
        guard !blockOutChannels.isEmpty else {
            throw check.fail("block_out_channels", "[]", "one positive channel count per block")
        }
        try check.all("block_out_channels", blockOutChannels)
        try check.all("layers_per_block", Self.entries(layersPerBlock))
        try check.all("transformer_layers_per_block", Self.entries(transformerLayersPerBlock))
        try check.all("attention_head_dim", Self.entries(attentionHeadDim))
        if let numAttentionHeads { try check.all("num_attention_heads", Self.entries(numAttentionHeads)) }
        try check.all("cross_attention_dim", Self.entries(crossAttentionDim))
        if let normNumGroups {
            try check.groups("norm_num_groups", normNumGroups, channels: blockOutChannels)
        }
        try check.epsilon("norm_eps", Double(normEps))
        guard midBlockScaleFactor.isFinite, midBlockScaleFactor != 0 else {
            throw check.fail("mid_block_scale_factor", "\(midBlockScaleFactor)", "a finite non-zero number (usually 1)")
        }
        for (field, k) in [("conv_in_kernel", convInKernel), ("conv_out_kernel", convOutKernel)]
        where !(1...15).contains(k) || k % 2 == 0 {
            throw check.fail(field, "\(k)", "an odd kernel size from 1 to 15 (usually 3)")
        }
        if !(0...8).contains(downsamplePadding) {
            throw check.fail("downsample_padding", "\(downsamplePadding)", "0...8 (usually 1)")
        }
        if let timeEmbeddingDim { try check.positive("time_embedding_dim", timeEmbeddingDim) }
        let half = blockOutChannels[0] / 2
        if freqShift < 0 || freqShift >= half {
            throw check.fail("freq_shift", "\(freqShift)", "0 or 1 (below half of block_out_channels[0])")
        }
        if let additionTimeEmbedDim { try check.positive("addition_time_embed_dim", additionTimeEmbedDim) }
        if let projectionClassEmbeddingsInputDim {
            try check.positive("projection_class_embeddings_input_dim", projectionClassEmbeddingsInputDim)
        }
    }

    /// Every value of an int-or-list field, whatever the list's length.
    static func entries(_ value: PerBlockValue<Int>) -> [Int] {
        switch value {
        case .uniform(let v): return [v]
        case .perBlock(let list): return list
        }
    }
}
