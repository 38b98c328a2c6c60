/// What a model's memory use depends on, as a worker announces it (from the configs, no weights loaded).
public struct ModelShape: Sendable, Equatable, Codable {
    /// The U-Net's `block_out_channels`.
    public var unetChannels: [Int]
    /// Whether each U-Net level has transformer blocks (a cross-attention down block).
    public var attentionLevels: [Bool]
    /// The U-Net's `layers_per_block`.
    public var unetLayers: Int
    /// The VAE's `block_out_channels` (the decoder's top level is the first).
    public var vaeChannels: [Int]
    /// Pixels per latent row or column.
    public var vaeFactor: Int
    /// Bytes of every weight once loaded (float32).
    public var weightBytes: Int64

    public init(unetChannels: [Int], attentionLevels: [Bool], unetLayers: Int, vaeChannels: [Int], vaeFactor: Int,
                weightBytes: Int64) {
        self.unetChannels = unetChannels
        self.attentionLevels = attentionLevels
        self.unetLayers = unetLayers
        self.vaeChannels = vaeChannels
        self.vaeFactor = vaeFactor
        self.weightBytes = weightBytes
    }
}
