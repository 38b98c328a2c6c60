import HiDiffCore

/// What the CLIP text encoder returns (transformers' `BaseModelOutputWithPooling`, plus
/// `CLIPTextModelWithProjection`'s `text_embeds`).
public struct CLIPTextModelOutput: Sendable {
    /// The last block's output after `final_layer_norm`: [B, L, hidden_size]. SD 1.x / 2.x condition on it.
    public var lastHiddenState: Tensor
    /// `lastHiddenState` at each sequence's end token: [B, hidden_size].
    public var pooledOutput: Tensor
    /// `pooledOutput` projected by `text_projection`: [B, projection_dim]; nil without a projection.
    public var textEmbeds: Tensor?
    /// When requested: the embeddings, then each block's output, none normalised ([B, L, hidden_size] each,
    /// `num_hidden_layers + 1` entries, transformers' `hidden_states`). SDXL conditions on `hiddenStates[-2]`
    /// (index `count - 2`). Empty otherwise.
    public var hiddenStates: [Tensor]

    public init(lastHiddenState: Tensor, pooledOutput: Tensor, textEmbeds: Tensor?, hiddenStates: [Tensor]) {
        self.lastHiddenState = lastHiddenState
        self.pooledOutput = pooledOutput
        self.textEmbeds = textEmbeds
        self.hiddenStates = hiddenStates
    }
}
