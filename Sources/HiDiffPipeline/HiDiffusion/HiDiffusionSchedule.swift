import HiDiffModels

/// RAU-Net's switching logic as pure functions of (family, settings, latent size, call index k, call count N):
/// which threshold entry applies, whether SDXL's aggressive schedule runs, and which operators are active
/// at each U-Net call (hidiffusion-spec.md §1.3, §1.5, §6).
///
/// "Fresh" semantics: every decision is recomputed from its inputs, so nothing leaks between generations.
/// The authors' package instead keeps a call counter per patched module (an interrupted run shifts the next
/// run's phases, quirk Q2) and never resets SDXL's aggressive flag (quirk Q1); both are fixed here, and
/// `Aggressive.on` reproduces the leaked state on purpose when wanted.
///
/// k is the U-Net call index within the generation with one call per denoising step (classifier-free
/// guidance batches both halves into that call), and N the number of steps actually run: for img2img the
/// count after `strength` truncation, exactly as the authors read `pipeline._num_timesteps`.
public struct HiDiffusionSchedule: Sendable, Equatable {
    public var family: ModelFamily
    /// The model's native latent side (`sample_size` of its U-Net config: 64 for SD 1.5 / 2.1-base,
    /// 96 for SD 2.x-768, 128 for SDXL). Only the `.relative` threshold rule reads it.
    public var nativeLatentSize: Int
    public var settings: HiDiffusionSettings
    /// The model's id or path; with `Aggressive.auto`, a name containing "inpainting" or "playground" keeps
    /// SDXL non-aggressive, as in the authors' code (compared case-insensitively here).
    public var modelName: String?
    public var layout: HiDiffusionLayout

    public init(family: ModelFamily, nativeLatentSize: Int, settings: HiDiffusionSettings, modelName: String? = nil) {
        self.family = family
        self.nativeLatentSize = nativeLatentSize
        self.settings = settings
        self.modelName = modelName
        layout = HiDiffusionLayout(family: family)
    }

    /// The per-generation decisions for one latent size.
    public struct Plan: Sendable, Equatable {
        public var entry: ThresholdEntry
        /// The entry's ratios after the settings' overrides.
        public var t1Ratio: Double
        public var t2Ratio: Double
        public var aggressive: Bool

        public init(entry: ThresholdEntry, t1Ratio: Double, t2Ratio: Double, aggressive: Bool) {
            self.entry = entry
            self.t1Ratio = t1Ratio
            self.t2Ratio = t2Ratio
            self.aggressive = aggressive
        }
    }

    /// The entry, ratios and aggressive flag for a latent of `latentHeight` x `latentWidth`.
    public func plan(latentHeight h: Int, latentWidth w: Int) -> Plan {
        let entry = thresholdEntry(latentHeight: h, latentWidth: w)
        let aggressive: Bool
        switch settings.aggressive {
        case .on: aggressive = true
        case .off: aggressive = false
        case .auto:
            let name = modelName?.lowercased() ?? ""
            aggressive = family == .sdxl && entry.isTwoTimes
                && !name.contains("inpainting") && !name.contains("playground")
        }
        return Plan(entry: entry, t1Ratio: settings.t1Ratio ?? entry.t1Ratio, t2Ratio: settings.t2Ratio ?? entry.t2Ratio,
                    aggressive: aggressive)
    }

    /// The authors' threshold entry (`.reference`) or the one at the same scale over the native size (`.relative`).
    public func thresholdEntry(latentHeight h: Int, latentWidth w: Int) -> ThresholdEntry {
        let twoTimes: Bool
        switch (family, settings.thresholds) {
        case (.sdxlTurbo, _): return .turbo
        case (.sd, .reference): twoTimes = h < 256 || w < 256
        case (.sdxl, .reference): twoTimes = h < 512 || w < 512
        case (_, .relative): twoTimes = min(h, w) < 4 * nativeLatentSize
        }
        switch family {
        case .sd: return twoTimes ? .sd2x : .sd4x
        default: return twoTimes ? .sdxl2x : .sdxl4x
        }
    }

    /// The call indices at which each RAU-Net operator runs.
    public struct Phases: Sendable, Equatable {
        /// Op A, the RAD conv (empty for Turbo).
        public var rad: Range<Int>
        /// Ops B and C, pool and bicubic.
        public var pool: Range<Int>

        public init(rad: Range<Int>, pool: Range<Int>) {
            self.rad = rad
            self.pool = pool
        }
    }

    /// Each operator's active k range for N calls. Every bound is the truncation of a double product, as
    /// Python's int() computes it (0.7 * 90 = 62.99... -> 62).
    public func phases(callCount n: Int, latentHeight h: Int, latentWidth w: Int) -> Phases {
        guard settings.raunet, n > 0 else { return Phases(rad: 0..<0, pool: 0..<0) }
        let p = plan(latentHeight: h, latentWidth: w)
        func bound(_ ratio: Double) -> Int { Int(Double(n) * ratio) }
        func ratio(_ key: HiDiffusionLayout.RatioKey) -> Double { key == .t1 ? p.t1Ratio : p.t2Ratio }
        var rad: Range<Int>, pool: Range<Int>
        if p.aggressive {
            // aggressive_step / 50 * N (hidiffusion.py L98, L1520-1526, L1786-1790): RAD first, ignoring its
            // ratio, then pool/bicubic until int(N * ratio).
            let start = Int(8.0 / 50.0 * Double(n))
            rad = 0..<start
            pool = start..<max(start, bound(ratio(layout.poolRatio)))
        } else {
            rad = 0..<bound(ratio(layout.radRatio))
            pool = 0..<bound(ratio(layout.poolRatio))
        }
        if layout.radDownBlock == nil { rad = 0..<0 }
        return Phases(rad: rad, pool: pool)
    }

    /// RAU-Net's part of one U-Net call: the same two fields `UNetCallContext` takes.
    public struct Step: Sendable, Equatable {
        public var downsamplerGeometry: [Int: ConvGeometry]
        public var pooledDownBlocks: Set<Int>

        public init(downsamplerGeometry: [Int: ConvGeometry], pooledDownBlocks: Set<Int>) {
            self.downsamplerGeometry = downsamplerGeometry
            self.pooledDownBlocks = pooledDownBlocks
        }

        public static let vanilla = Step(downsamplerGeometry: [:], pooledDownBlocks: [])
    }

    /// Which RAU-Net operators U-Net call k of N runs at this latent size.
    public func context(callIndex k: Int, callCount n: Int, latentHeight h: Int, latentWidth w: Int) -> Step {
        let p = phases(callCount: n, latentHeight: h, latentWidth: w)
        var step = Step.vanilla
        if let r = layout.radDownBlock, p.rad.contains(k) {
            step.downsamplerGeometry[r] = .resolutionAwareDownsampler
        }
        if p.pool.contains(k) {
            step.pooledDownBlocks.insert(layout.pooledDownBlock)
        }
        return step
    }
}
