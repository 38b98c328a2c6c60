import HiDiffCore
import HiDiffModels

/// What the U-Net is conditioned on for one generation: text tokens and, for SDXL, the added conditions.
/// With classifier-free guidance the batch is [unconditional, conditional].
public struct Conditioning: Sendable {
    /// [B, 77, cross_attention_dim].
    public var context: Tensor
    /// SDXL's pooled text embedding and time ids; nil for SD 1.x/2.x.
    public var added: UNetAddedConditions?
}

extension StableDiffusionPipeline {
    /// The text encoder's last hidden state for `prompt`: [1, 77, D] (diffusers' `encode_prompt`, SD 1.x/2.x).
    public func encodePrompt(_ prompt: String) throws -> Tensor {
        let ids = try tokenizer.encode(prompt)
        return try textEncoder([ids]).lastHiddenState
    }

    /// SDXL's text conditioning for one prompt pair (diffusers' `StableDiffusionXLPipeline.encode_prompt`):
    /// each encoder's penultimate hidden state (`hidden_states[-2]`, not normalised), concatenated along the
    /// width, [1, 77, w1 + w2]; and the second encoder's projected pooled output (`text_embeds`), [1, P].
    public func encodePromptXL(_ prompt: String, _ prompt2: String) throws -> (context: Tensor, pooled: Tensor) {
        guard let tokenizer2, let textEncoder2 else {
            throw PipelineError.unsupportedModel(path: path, reason: "SDXL conditioning needs text_encoder_2")
        }
        let out1 = try textEncoder([try tokenizer.encode(prompt)], outputHiddenStates: true)
        let out2 = try textEncoder2([try tokenizer2.encode(prompt2)], outputHiddenStates: true)
        guard let pooled = out2.textEmbeds else {
            throw PipelineError.unsupportedModel(path: path, reason: "text_encoder_2 has no text_projection (SDXL pools through it)")
        }
        let h1 = out1.hiddenStates[out1.hiddenStates.count - 2], h2 = out2.hiddenStates[out2.hiddenStates.count - 2]
        return (Tensor.concat([h1, h2], axis: 2), pooled)
    }

    /// SDXL's micro-conditioning for one sample, as diffusers' pipeline builds it by default:
    /// original_size = target_size = (height, width), crops_coords_top_left = (0, 0). Shape [1, 6].
    public func addTimeIDs(width: Int, height: Int) -> Tensor {
        Tensor(shape: [1, 6], data: [Float(height), Float(width), 0, 0, Float(height), Float(width)])
    }

    /// The conditioning of `request`: the negative prompt's states first when guided.
    ///
    /// SDXL follows diffusers: `prompt_2` defaults to the prompt and `negative_prompt_2` to the negative
    /// prompt (empty counts as absent); with guidance and an empty negative prompt, a pipeline with
    /// `force_zeros_for_empty_prompt` (every released SDXL) uses zeros for both the unconditional tokens and
    /// pooled embedding (whatever `negative_prompt_2` says, as diffusers does); the time ids are the same for
    /// both halves. Without guidance there is no unconditional half.
    public func conditioning(for request: GenerationRequest, width: Int, height: Int, guided: Bool) throws -> Conditioning {
        guard textEncoder2 != nil else {
            var context = try encodePrompt(request.prompt)
            if guided {
                context = Tensor.concat([try encodePrompt(request.negativePrompt), context], axis: 0)
            }
            return Conditioning(context: context, added: nil)
        }
        func orFirst(_ second: String?, _ first: String) -> String {
            if let second, !second.isEmpty { return second }
            return first
        }
        var (context, pooled) = try encodePromptXL(request.prompt, orFirst(request.prompt2, request.prompt))
        var timeIDs = addTimeIDs(width: width, height: height)
        if guided {
            let negative: (context: Tensor, pooled: Tensor)
            if forceZerosForEmptyPrompt && request.negativePrompt.isEmpty {
                negative = (Tensor(zeros: context.shape), Tensor(zeros: pooled.shape))
            } else {
                negative = try encodePromptXL(request.negativePrompt,
                                              orFirst(request.negativePrompt2, request.negativePrompt))
            }
            context = Tensor.concat([negative.context, context], axis: 0)
            pooled = Tensor.concat([negative.pooled, pooled], axis: 0)
            timeIDs = Tensor.concat([timeIDs, timeIDs], axis: 0)
        }
        return Conditioning(context: context, added: UNetAddedConditions(textEmbeds: pooled, timeIds: timeIDs))
    }
}
