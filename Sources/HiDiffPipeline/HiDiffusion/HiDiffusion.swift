import HiDiffCore
import HiDiffModels

/// HiDiffusion for one generation: RAU-Net's schedule plus MSW-MSA, turned into the per-call
/// `UNetCallContext` the U-Net takes. A value type with no mutable state: build one per generation.
public struct HiDiffusion: Sendable {
    public var schedule: HiDiffusionSchedule
    /// nil when window attention is off.
    public var windowAttention: WindowAttention?

    /// - Parameters:
    ///   - nativeLatentSize: the U-Net config's `sample_size` (see `HiDiffusionSchedule.nativeLatentSize`).
    ///   - seed: the generation's seed (seeds the window shifts with `WindowShift.seeded`).
    ///   - modelName: the model's id or path (`Aggressive.auto` reads it).
    public init(family: ModelFamily, nativeLatentSize: Int, settings: HiDiffusionSettings, seed: UInt64,
                modelName: String? = nil) throws {
        try settings.validate()
        guard nativeLatentSize > 0 else {
            throw HiDiffusionError.invalidSetting(name: "native latent size", value: "\(nativeLatentSize)",
                                                  expected: "a positive U-Net sample_size")
        }
        schedule = HiDiffusionSchedule(family: family, nativeLatentSize: nativeLatentSize, settings: settings,
                                       modelName: modelName)
        windowAttention = settings.windowAttention
            ? WindowAttention(family: family, shift: WindowShiftSource(settings.windowShift, seed: seed)) : nil
    }

    /// Throws `HiDiffusionError.layoutMismatch` if the U-Net lacks the blocks the family's operators address.
    public func validate(_ unet: UNetConfig) throws {
        guard schedule.settings.isEnabled else { return }
        try schedule.layout.validate(unet, family: schedule.family)
    }

    /// The context of U-Net call `k` of `n` on a `latentHeight` x `latentWidth` latent.
    public func callContext(callIndex k: Int, callCount n: Int, latentHeight: Int, latentWidth: Int,
                            collective: any Collective) -> UNetCallContext {
        let step = schedule.context(callIndex: k, callCount: n, latentHeight: latentHeight, latentWidth: latentWidth)
        return UNetCallContext(callIndex: k, callCount: n, collective: collective,
                               downsamplerGeometry: step.downsamplerGeometry, pooledDownBlocks: step.pooledDownBlocks,
                               selfAttentionOverride: windowAttention?.override)
    }

    /// The feature-map sizes the window blocks see in a generation of `n` calls: their level's vanilla size,
    /// plus the pooled size when RAU-Net pools that level (SDXL / Turbo) at some step.
    public func windowMapSizes(callCount n: Int, latentHeight h: Int, latentWidth w: Int) -> [(height: Int, width: Int)] {
        guard windowAttention != nil else { return [] }
        let layout = schedule.layout
        let level: Int
        switch layout.windowBlocks.first?.stage {
        case .down(let i)?: level = i
        case .up(let i)?: level = layout.levels - 1 - i
        default: return []
        }
        var size = (height: h, width: w)
        for _ in 0..<level { size = ((size.height + 1) / 2, (size.width + 1) / 2) }  // stride-2 downsamplers
        var sizes = [size]
        if layout.pooledDownBlock == level, !schedule.phases(callCount: n, latentHeight: h, latentWidth: w).pool.isEmpty {
            sizes.append(((size.height + 1) / 2, (size.width + 1) / 2))
        }
        return sizes
    }

    /// True when window attention meets an odd map and so bicubic-resizes it around the windows (the authors
    /// warn that image quality drops; a caller may want to say so, or suggest a size that avoids it).
    public func windowAttentionResizes(callCount n: Int, latentHeight h: Int, latentWidth w: Int) -> Bool {
        windowMapSizes(callCount: n, latentHeight: h, latentWidth: w).contains { $0.height % 2 != 0 || $0.width % 2 != 0 }
    }

    /// The resolved plan, for logs and PNG metadata, e.g.
    /// `entry=sdxl_2048 t1=0.4 t2=0.0 aggressive=true rad=0..<8 pool=8..<20 window-attn=seeded`.
    public func summary(callCount n: Int, latentHeight h: Int, latentWidth w: Int) -> String {
        let p = schedule.plan(latentHeight: h, latentWidth: w)
        let phases = schedule.phases(callCount: n, latentHeight: h, latentWidth: w)
        func range(_ r: Range<Int>) -> String { r.isEmpty ? "none" : "\(r.lowerBound)..<\(r.upperBound)" }
        var parts = ["entry=\(p.entry.rawValue)", "t1=\(p.t1Ratio)", "t2=\(p.t2Ratio)", "aggressive=\(p.aggressive)"]
        if schedule.settings.raunet {
            parts += ["rad=\(range(phases.rad))", "pool=\(range(phases.pool))"]
        } else {
            parts.append("raunet=off")
        }
        parts.append("window-attn=\(schedule.settings.windowAttention ? "\(schedule.settings.windowShift)" : "off")")
        return parts.joined(separator: " ")
    }
}
