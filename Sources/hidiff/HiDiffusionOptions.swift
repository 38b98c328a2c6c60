import ArgumentParser
import HiDiffPipeline

extension HiDiffusionMode: ExpressibleByArgument {}
extension HiDiffusionSettings.Aggressive: ExpressibleByArgument {}
extension HiDiffusionSettings.Thresholds: ExpressibleByArgument {}
extension ModelFamily: ExpressibleByArgument {}
extension HiDiffusionSettings.WindowShift: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// The HiDiffusion flags of `hidiff generate`.
struct HiDiffusionOptions: ParsableArguments {
    @Option(help: "HiDiffusion: auto (on when either side exceeds the model's native size), on, off.")
    var hidiffusion: HiDiffusionMode = .auto
    @Flag(help: "Without RAU-Net (keep MSW-MSA).")
    var noRaunet = false
    @Flag(help: "Without MSW-MSA window attention (keep RAU-Net).")
    var noWindowAttn = false
    @Option(help: "Override T1_ratio: the fraction of steps RAU-Net's main stage runs (0...1).")
    var t1Ratio: Double?
    @Option(help: "Override T2_ratio: the fraction of steps its extreme-resolution stage runs (0...1).")
    var t2Ratio: Double?
    @Option(help: "SDXL's three-phase aggressive RAU-Net: auto, on, off.")
    var aggressive: HiDiffusionSettings.Aggressive = .auto
    @Option(help: "Threshold entry by the scale relative to the model's native size (relative) or by the authors' absolute latent size (reference).")
    var thresholds: HiDiffusionSettings.Thresholds = .relative
    @Option(help: "MSW-MSA window shift: seeded (from seed, call, block) or a fixed bucket 0, 1, 2, 3.")
    var mswShift: HiDiffusionSettings.WindowShift = .seeded
    @Option(help: "Model family for HiDiffusion's layout: sd, sdxl, sdxl-turbo (default: from the model's configuration).")
    var family: ModelFamily?

    /// Writes these options into `request`.
    func apply(to request: inout GenerationRequest) {
        request.hidiffusion = hidiffusion
        request.hidiffusionSettings = HiDiffusionSettings(
            raunet: !noRaunet, windowAttention: !noWindowAttn, t1Ratio: t1Ratio, t2Ratio: t2Ratio,
            aggressive: aggressive, thresholds: thresholds, windowShift: mswShift)
        request.family = family
    }

    func validate() throws {
        // The ratios' ranges are the request's rules (GenerationRequest.problem), checked with the other options.
        if hidiffusion == .off && (noRaunet || noWindowAttn || t1Ratio != nil || t2Ratio != nil) {
            throw ValidationError("--no-raunet, --no-window-attn and the ratios have no effect with --hidiffusion off")
        }
    }
}
