import HiDiffCore

extension UNet2DConditionModel {
    /// Checks shapes and counts before any compute, so bad input throws instead of trapping in a kernel.
    func validateInputs(_ sample: Tensor, timesteps: [Float], encoderHiddenStates ehs: Tensor,
                        added: UNetAddedConditions?) throws {
        guard sample.rank == 4, sample.dim(1) == config.inChannels, sample.dim(0) > 0,
              sample.dim(2) > 0, sample.dim(3) > 0 else {
            throw UNetError.invalidInput(name: "sample", expected: "[B, \(config.inChannels), H, W]",
                                         found: "\(sample.shape)")
        }
        let batch = sample.dim(0)
        guard timesteps.count == 1 || timesteps.count == batch else {
            throw UNetError.invalidInput(name: "timesteps", expected: "1 or \(batch) values",
                                         found: "\(timesteps.count)")
        }
        if let mismatch = crossAttentionDims.first(where: { $0 != crossAttentionDims[0] }) {
            throw UNetError.invalidInput(
                name: "encoder_hidden_states",
                expected: "one width for every block (config has \(crossAttentionDims[0]) and \(mismatch))",
                found: "\(ehs.shape)")
        }
        guard ehs.rank == 3, ehs.dim(0) == batch, ehs.dim(1) > 0, ehs.dim(2) == crossAttentionDims[0] else {
            throw UNetError.invalidInput(name: "encoder_hidden_states",
                                         expected: "[\(batch), L, \(crossAttentionDims[0])]", found: "\(ehs.shape)")
        }
        guard let addEmbedding else {
            if added != nil {
                throw UNetError.invalidInput(name: "added conditions", expected: "none (addition_embed_type is null)",
                                             found: "text_embeds and time_ids")
            }
            return
        }
        guard let added else {
            throw UNetError.invalidInput(name: "added conditions", expected: "text_embeds and time_ids (SDXL)",
                                         found: "none")
        }
        let projected = addEmbedding.linear1Weight.dim(1)
        let perId = config.additionTimeEmbedDim ?? 0
        guard added.textEmbeds.rank == 2, added.textEmbeds.dim(0) == batch,
              added.timeIds.rank == 2, added.timeIds.dim(0) == batch,
              added.textEmbeds.dim(1) + added.timeIds.dim(1) * perId == projected else {
            throw UNetError.invalidInput(
                name: "text_embeds/time_ids",
                expected: "[\(batch), D] and [\(batch), n] with D + n * \(perId) = \(projected)",
                found: "\(added.textEmbeds.shape) and \(added.timeIds.shape)")
        }
    }

    /// Checks that every per-call switch names a block that can take it.
    func validate(_ call: UNetCallContext) throws {
        for (index, g) in call.downsamplerGeometry {
            guard downBlocks.indices.contains(index), downBlocks[index].downsampler != nil else {
                throw UNetError.invalidCallContext("down_blocks.\(index) has no downsampler to re-grid")
            }
            guard g.stride > 0, g.padding >= 0, g.dilation > 0 else {
                throw UNetError.invalidCallContext("downsampler geometry \(g) for down_blocks.\(index)")
            }
        }
        for index in call.pooledDownBlocks {
            guard downBlocks.indices.contains(index), downBlocks[index].hasCrossAttention,
                  downBlocks[index].resnets.count >= 2 else {
                throw UNetError.invalidCallContext(
                    "pooling needs a cross-attention down block with 2 or more pairs; down_blocks.\(index) is not one")
            }
            let mirror = upBlocks.count - 1 - index
            guard upBlocks[mirror].resnets.count >= 2 else {
                throw UNetError.invalidCallContext("up_blocks.\(mirror) has no pair 1 to restore the pooled size after")
            }
        }
    }
}
