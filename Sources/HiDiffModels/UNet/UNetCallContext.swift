import HiDiffCore

/// Per-call options of `UNet2DConditionModel`: which step this is, how to reach other stripes, and the
/// switches HiDiffusion flips per call (RAU-Net's operators, MSW-MSA's window attention).
///
/// The default value is the vanilla diffusers U-Net on one shard.
public struct UNetCallContext: Sendable {
    /// k: the index of this U-Net call in the sampling run (0-based).
    public var callIndex: Int
    /// N: the number of U-Net calls (timesteps) in the run.
    public var callCount: Int
    /// How ops reach other stripes (halo rows, GroupNorm statistics, self-attention keys and values).
    public var collective: any Collective
    /// RAU-Net op A: down-block index -> geometry of that block's downsampler conv (same 3x3 weights).
    /// Blocks not listed use the vanilla geometry (stride 2, padding `downsample_padding`).
    public var downsamplerGeometry: [Int: ConvGeometry]
    /// RAU-Net ops B and C, always switched together: for each listed down block d (a cross-attention
    /// block with at least 2 pairs), pair 0's output is 2x2 average-pooled (ceil mode) and becomes both its
    /// skip and pair 1's input; the mirrored up block (index blocks - 1 - d) bicubic-resizes the output of
    /// its pair 1 back to pair 0's pre-pool size before pair 2.
    public var pooledDownBlocks: Set<Int>
    /// MSW-MSA: replaces `attn1` of chosen transformer blocks (nil: vanilla everywhere).
    public var selfAttentionOverride: SelfAttentionOverride?

    /// A single call on one node holding the whole map, with no HiDiffusion.
    public static var wholeMap: UNetCallContext { UNetCallContext(collective: SingleShard()) }

    public init(callIndex: Int = 0, callCount: Int = 1, collective: any Collective,
                downsamplerGeometry: [Int: ConvGeometry] = [:], pooledDownBlocks: Set<Int> = [],
                selfAttentionOverride: SelfAttentionOverride? = nil) {
        self.callIndex = callIndex
        self.callCount = callCount
        self.collective = collective
        self.downsamplerGeometry = downsamplerGeometry
        self.pooledDownBlocks = pooledDownBlocks
        self.selfAttentionOverride = selfAttentionOverride
    }
}
