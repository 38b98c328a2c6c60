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
    /// The text encoder's last hidden state for `prompt`: [1, 77, D] (diffusers' `encode_prompt`).
    public func encodePrompt(_ prompt: String) throws -> Tensor {
        let ids = try tokenizer.encode(prompt)
        return try textEncoder([ids]).lastHiddenState
    }

    /// The conditioning of `request`: the negative prompt's states first when guided.
    func conditioning(for request: GenerationRequest, width: Int, height: Int, guided: Bool) throws -> Conditioning {
        var context = try encodePrompt(request.prompt)
        if guided {
            context = Tensor.concat([try encodePrompt(request.negativePrompt), context], axis: 0)
        }
        return Conditioning(context: context, added: nil)
    }
}
