/// Where a `BasicTransformerBlock` sits in the U-Net, in diffusers' module-path terms; the key hooks
/// (MSW-MSA) use to pick blocks.
public struct TransformerBlockPath: Hashable, Sendable, CustomStringConvertible {
    /// The U-Net stage holding the block.
    public enum Stage: Hashable, Sendable {
        case down(Int)
        case mid
        case up(Int)
    }

    public var stage: Stage
    /// Index into the stage's `attentions` (the pair index).
    public var attention: Int
    /// Index into that `Transformer2DModel`'s `transformer_blocks`.
    public var block: Int

    public init(_ stage: Stage, attention: Int, block: Int) {
        self.stage = stage
        self.attention = attention
        self.block = block
    }

    /// e.g. `down_blocks.0.attentions.1.transformer_blocks.0`.
    public var description: String {
        let head: String
        switch stage {
        case .down(let i): head = "down_blocks.\(i)"
        case .mid: head = "mid_block"
        case .up(let i): head = "up_blocks.\(i)"
        }
        return "\(head).attentions.\(attention).transformer_blocks.\(block)"
    }
}
