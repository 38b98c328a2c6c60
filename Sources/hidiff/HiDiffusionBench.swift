import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffPipeline

/// `hidiff bench hidiffusion`: U-Net seconds per denoising step, direct vs HiDiffusion, by phase.
///
/// A generation's U-Net calls differ only in which operators run (RAU-Net's strided-dilated convolution or
/// pooling, window attention), and a call's cost depends only on that and the shapes. So each distinct phase of
/// an N-step schedule is timed on its own and the whole generation's U-Net time is the phases' times weighted by
/// their call counts; that makes 2048 px comparisons feasible without running 50 direct steps. Text encoding,
/// the scheduler and VAE decoding run identically in both modes and are not included.
struct HiDiffusionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hidiffusion",
        abstract: "Time U-Net steps with HiDiffusion vs direct inference, by phase; one JSON line.")

    @OptionGroup var input: UNetBenchInput
    @Option(help: "Steps of the schedule the totals are projected for (N).")
    var steps: Int = 50
    @Option(help: "Timed forwards per phase (median reported).")
    var runs: Int = 1
    @Option(help: "Model family (sd, sdxl, sdxl-turbo); default: detected from the U-Net config.")
    var family: ModelFamily?

    func validate() throws {
        try requireRange(runs, 1...1000, option: "--runs")
        try requireRange(steps, GenerationLimits.steps, option: "--steps")
    }

    func run() throws {
        let (model, width, height, batch) = (input.model, input.width, input.height, input.batch)
        let unet = try ComponentLoader.unet(at: model, precision: input.precision)
        let native = unet.config.sampleSize ?? 64
        let family = self.family ?? ModelFamily.detect(unet: unet.config, name: model, trailingSpacing: false)
        let hidiffusion = try HiDiffusion(family: family, nativeLatentSize: native, settings: HiDiffusionSettings(),
                                          seed: 0, modelName: model)
        try hidiffusion.validate(unet.config)
        let (h, w) = (height / input.vaeFactor, width / input.vaeFactor)
        var gen = TorchGenerator(seed: 0)
        let context = gen.randn([batch, 77, unet.crossAttentionDim])
        let added = input.addedConditions(for: unet.config, generator: &gen)
        func time(_ sample: Tensor, _ call: UNetCallContext) throws -> Double {
            let t0 = ProcessStats.now()
            _ = try unet(sample, timestep: 500, encoderHiddenStates: context, added: added, context: call)
            return ProcessStats.now() - t0
        }
        // Warm-up at the native size: maps the weights in and sizes the allocator without a full-size forward.
        _ = try time(gen.randn([batch, unet.config.inChannels, native, native]), UNetCallContext.wholeMap)
        let sample = gen.randn([batch, unet.config.inChannels, h, w])
        func median(_ call: UNetCallContext) throws -> Double {
            let t = try (0..<runs).map { _ in try time(sample, call) }.sorted()
            return t[t.count / 2]
        }

        let direct = try median(UNetCallContext(callIndex: 0, callCount: steps, collective: SingleShard()))
        // Group the schedule's calls by the operators they run, in order of first appearance.
        var phases: [(name: String, calls: Int, firstCall: Int)] = []
        for k in 0..<steps {
            let name = Self.phaseName(hidiffusion.schedule.context(callIndex: k, callCount: steps, latentHeight: h,
                                                                   latentWidth: w),
                                      windowAttention: hidiffusion.windowAttention != nil)
            if let i = phases.firstIndex(where: { $0.name == name }) { phases[i].calls += 1 } else {
                phases.append((name, 1, k))
            }
        }
        var phaseLines: [[String: Any]] = []
        var total = 0.0
        for p in phases {
            let s = try median(hidiffusion.callContext(callIndex: p.firstCall, callCount: steps, latentHeight: h,
                                                       latentWidth: w, collective: SingleShard()))
            total += s * Double(p.calls)
            phaseLines.append(["phase": p.name, "calls": p.calls, "s_per_step": s, "speedup_vs_direct": direct / s])
        }
        print(try jsonLine([
            "bench": "hidiffusion", "model": model, "family": family.rawValue, "width": width, "height": height,
            "batch": batch, "steps": steps, "runs": runs, "direct_s_per_step": direct, "phases": phaseLines,
            "direct_unet_s": direct * Double(steps), "hidiffusion_unet_s": total,
            "speedup": direct * Double(steps) / total, "threads": ProcessInfoCores.count,
            "peak_rss_bytes": ProcessStats.peakResidentBytes() ?? -1,
        ]))
    }

    /// "rad+msw", "pool+msw", "msw" (or without "+msw" when window attention is off, "direct" for nothing).
    static func phaseName(_ step: HiDiffusionSchedule.Step, windowAttention: Bool) -> String {
        var parts: [String] = []
        if !step.downsamplerGeometry.isEmpty { parts.append("rad") }
        if !step.pooledDownBlocks.isEmpty { parts.append("pool") }
        if windowAttention { parts.append("msw") }
        return parts.isEmpty ? "direct" : parts.joined(separator: "+")
    }
}
