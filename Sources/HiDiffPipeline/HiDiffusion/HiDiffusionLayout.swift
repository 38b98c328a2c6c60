import HiDiffModels

/// Where HiDiffusion's operators sit in a family's U-Net and which threshold ratio each reads
/// (hidiffusion-spec.md §1.3 and §2.1; the authors' module-key lists, hidiffusion.py L24-70).
public struct HiDiffusionLayout: Sendable, Equatable {
    /// The two ratios of a `ThresholdEntry`.
    public enum RatioKey: String, Sendable {
        case t1 = "T1_ratio"
        case t2 = "T2_ratio"
    }

    /// Op A (RAD): the down block whose downsampler conv switches to stride 4 / padding 2 / dilation 2;
    /// nil for Turbo, which has none.
    public var radDownBlock: Int?
    public var radRatio: RatioKey
    /// Ops B and C: the down block that pools after pair 0; its mirrored up block bicubic-resizes after pair 1.
    public var pooledDownBlock: Int
    public var poolRatio: RatioKey
    /// MSW-MSA: the transformer blocks whose `attn1` becomes 2x2-window attention, in forward (call) order;
    /// a block's index here is its ordinal for the shift.
    public var windowBlocks: [TransformerBlockPath]
    /// The U-Net depth these indices assume (4 levels for SD, 3 for SDXL).
    public var levels: Int

    public init(family: ModelFamily) {
        switch family {
        case .sd:
            // RAD leaves level 0 (T1); pool/bicubic inside level 1 (T2); windows at level 0.
            radDownBlock = 0
            radRatio = .t1
            pooledDownBlock = 1
            poolRatio = .t2
            windowBlocks = (0..<2).map { TransformerBlockPath(.down(0), attention: $0, block: 0) }
                + (0..<3).map { TransformerBlockPath(.up(3), attention: $0, block: 0) }
            levels = 4
        case .sdxl, .sdxlTurbo:
            // Pool/bicubic inside level 1 (T1); RAD on level 1's downsampler (T2; SDXL only); windows at level 1.
            radDownBlock = family == .sdxl ? 1 : nil
            radRatio = .t2
            pooledDownBlock = 1
            poolRatio = .t1
            let pairs = { (stage: TransformerBlockPath.Stage, count: Int) in
                (0..<count).flatMap { a in (0..<2).map { TransformerBlockPath(stage, attention: a, block: $0) } }
            }
            windowBlocks = pairs(.down(1), 2) + pairs(.up(1), 3)
            levels = 3
        }
    }

    /// The up block that undoes the pool (mirror of `pooledDownBlock`).
    public var bicubicUpBlock: Int { levels - 1 - pooledDownBlock }

    /// Checks that a U-Net configuration has the blocks this layout addresses: the level count, a
    /// cross-attention pooled block with 2 pairs (3 in its up mirror), a downsampler on the RAD block, and
    /// enough transformer layers for the window blocks.
    public func validate(_ config: UNetConfig, family: ModelFamily) throws {
        func fail(_ problem: String) -> HiDiffusionError { .layoutMismatch(family: family, problem: problem) }
        let n = config.blockOutChannels.count
        guard n == levels, config.downBlockTypes.count == n, config.upBlockTypes.count == n else {
            throw fail("expected \(levels) U-Net levels, found \(n) (block_out_channels \(config.blockOutChannels))")
        }
        let blocks = try config.resolvedBlocks()
        let d = pooledDownBlock, u = bicubicUpBlock
        guard config.downBlockTypes[d] == "CrossAttnDownBlock2D", blocks.layers[d] == 2 else {
            throw fail("down_blocks.\(d) must be a CrossAttnDownBlock2D with 2 layers (found "
                       + "\(config.downBlockTypes[d]) with \(blocks.layers[d]))")
        }
        guard config.upBlockTypes[u] == "CrossAttnUpBlock2D" else {
            throw fail("up_blocks.\(u) must be a CrossAttnUpBlock2D (found \(config.upBlockTypes[u]))")
        }
        if let r = radDownBlock, r >= n - 1 {
            throw fail("down_blocks.\(r) has no downsampler")
        }
        for path in windowBlocks {
            let level: Int
            let type: String
            switch path.stage {
            case .down(let i): level = i; type = config.downBlockTypes[i]
            case .up(let i): level = n - 1 - i; type = config.upBlockTypes[i]
            case .mid: level = n - 1; type = "CrossAttnDownBlock2D"
            }
            let pairs: Int
            if case .up = path.stage { pairs = blocks.layers[level] + 1 } else { pairs = blocks.layers[level] }
            guard type.hasPrefix("CrossAttn"), path.attention < pairs, path.block < blocks.transformerLayers[level]
            else {
                throw fail("window attention block \(path) does not exist")
            }
        }
    }
}
