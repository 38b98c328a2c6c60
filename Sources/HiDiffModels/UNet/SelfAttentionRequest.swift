import HiDiffCore

/// What a self-attention override (MSW-MSA) gets in place of a transformer block's global `attn1`.
///
/// The override returns the attention output for `tokens` (same shape), or nil to run the vanilla global
/// attention. It may run `attention` (the block's own `attn1` weights) on any token batch, e.g. windows
/// stacked along the batch axis.
public struct SelfAttentionRequest: Sendable {
    public var path: TransformerBlockPath
    /// norm1(x): [B, height * width, C], tokens of the feature map in row-major order.
    public var tokens: Tensor
    public var height: Int
    public var width: Int
    /// The block's `attn1`.
    public var attention: CrossAttention
    /// The U-Net call's context (call index k, count N, collective).
    public var callIndex: Int
    public var callCount: Int
    public var collective: any Collective
}

/// Replaces `attn1` of chosen transformer blocks for one U-Net call; see `SelfAttentionRequest`.
public typealias SelfAttentionOverride = @Sendable (SelfAttentionRequest) throws -> Tensor?
