import ArgumentParser
import HiDiffCore
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffSubmission

extension SchedulerKind: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// The flags that describe one image: shared by `generate` (this machine) and `submit` (the cluster).
struct GenerationOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "What to draw.")
    var prompt: String?
    @Option(name: [.short, .long], help: "What to steer away from.")
    var negativePrompt: String = ""
    @Option(name: .customLong("prompt-2"), help: "SDXL: the prompt for the second text encoder (default: --prompt).")
    var prompt2: String?
    @Option(name: .customLong("negative-prompt-2"), help: "SDXL: the negative prompt for the second text encoder (default: --negative-prompt).")
    var negativePrompt2: String?
    // `.unconditional`: "-W -64" reaches validate() (a clear message) instead of "Missing value".
    @Option(name: [.customShort("W"), .long], parsing: .unconditional, help: "Width in pixels (default: the model's native size).")
    var width: Int?
    @Option(name: [.customShort("H"), .long], parsing: .unconditional, help: "Height in pixels (default: the model's native size).")
    var height: Int?
    @Option(parsing: .unconditional, help: "Denoising steps.")
    var steps: Int = 50
    @Option(parsing: .unconditional, help: "Classifier-free guidance scale (<= 1 disables the unconditional pass).")
    var cfgScale: Double = 7.5
    @Option(name: [.short, .long], help: "Noise seed (torch.Generator(\"cpu\").manual_seed compatible). Default: random.")
    var seed: UInt64?
    @Option(help: "Scheduler: pndm, ddim, euler, euler-a, dpm++2m (default: the model's own).")
    var scheduler: SchedulerKind?
    @Flag(help: "Karras sigmas (euler, dpm++2m).")
    var karras = false
    @Option(help: "img2img: the start image (PNG).")
    var initImage: String?
    @Option(help: "img2img: the fraction of the schedule to run over the init image, in (0, 1].")
    var strength: Double = 0.8
    @Option(help: "Arithmetic: fp32 (exact, the default) or bf16 (bfloat16 weights and products with float32 sums: half the weight memory, faster on CPUs with AMX or AVX512-BF16).")
    var precision: Precision = .fp32

    @OptionGroup(title: "HiDiffusion")
    var hidiffusionOptions: HiDiffusionOptions

    func validate() throws {
        // The engine's own rules (GenerationRequest.problem), reported under this command's option names.
        if let (field, reason) = request(prompt: prompt ?? "", seed: 0).problem() {
            throw ValidationError("\(field.option) \(reason)")
        }
        if initImage == nil && strength != 0.8 {
            throw ValidationError("--strength only applies with --init-image")
        }
    }

    /// The request for `prompt` with `seed`.
    func request(prompt: String, seed: UInt64) -> GenerationRequest {
        var request = GenerationRequest(
            prompt: prompt, negativePrompt: negativePrompt, width: width, height: height, steps: steps,
            guidanceScale: cfgScale, seed: seed, scheduler: scheduler, karras: karras, initImage: initImage,
            strength: strength, prompt2: prompt2, negativePrompt2: negativePrompt2)
        request.precision = precision
        hidiffusionOptions.apply(to: &request)
        return request
    }

    /// A seed like `generate` draws when none is given.
    static func randomSeed() -> UInt64 { Submission.randomSeed() }
}
