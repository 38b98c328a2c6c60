import HiDiffCore

/// SDXL's extra conditioning (`addition_embed_type: "text_time"`): the pooled text embedding and the six
/// micro-conditioning numbers (original size, crop top-left, target size) per sample.
public struct UNetAddedConditions: Sendable {
    /// [B, pooled width].
    public var textEmbeds: Tensor
    /// [B, 6] (any [B, n] is projected per number).
    public var timeIds: Tensor

    public init(textEmbeds: Tensor, timeIds: Tensor) {
        self.textEmbeds = textEmbeds
        self.timeIds = timeIds
    }
}
