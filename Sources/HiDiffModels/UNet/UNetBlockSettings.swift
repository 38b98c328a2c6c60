/// What every block of one U-Net shares: resnet GroupNorm groups and eps, activation, time-embedding width,
/// projection style of the transformers.
public struct UNetBlockSettings: Sendable {
    public var groups: Int
    public var eps: Float
    public var activation: DiffusersActivation
    public var timeEmbeddingChannels: Int
    public var useLinearProjection: Bool

    public init(groups: Int, eps: Float, activation: DiffusersActivation, timeEmbeddingChannels: Int,
                useLinearProjection: Bool) {
        self.groups = groups
        self.eps = eps
        self.activation = activation
        self.timeEmbeddingChannels = timeEmbeddingChannels
        self.useLinearProjection = useLinearProjection
    }
}
