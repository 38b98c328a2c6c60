import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers

extension SchedulerKind: ExpressibleByArgument {}

/// `hidiff generate`: text-to-image and image-to-image on this machine (the embedded default engine).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate an image from a prompt (or from an init image).")

    @Option(help: "A diffusers pipeline folder, or a single-file checkpoint (.safetensors in the original SD 1.x / 2.x / SDXL layout). Default: the bundled demo model.")
    var model: String?
    @Option(help: "With a single-file --model: a diffusers folder whose configs, tokenizers and scheduler to use (its weights are not read). Default: those of the detected family's released model.")
    var modelConfig: String?
    @Option(name: [.short, .long], help: "What to draw.")
    var prompt: String
    @Option(name: [.short, .long], help: "What to steer away from.")
    var negativePrompt: String = ""
    @Option(name: .customLong("prompt-2"), help: "SDXL: the prompt for the second text encoder (default: --prompt).")
    var prompt2: String?
    @Option(name: .customLong("negative-prompt-2"), help: "SDXL: the negative prompt for the second text encoder (default: --negative-prompt).")
    var negativePrompt2: String?
    @Option(name: [.customShort("W"), .long], help: "Width in pixels (default: the model's native size).")
    var width: Int?
    @Option(name: [.customShort("H"), .long], help: "Height in pixels (default: the model's native size).")
    var height: Int?
    @Option(help: "Denoising steps.")
    var steps: Int = 50
    @Option(help: "Classifier-free guidance scale (<= 1 disables the unconditional pass).")
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
    @Option(name: [.short, .long], help: "Output PNG path.")
    var output: String = "hidiff.png"
    @Option(help: "Also save the final latent (before VAE decoding) as safetensors, tensor name `latents`.")
    var saveLatents: String?
    @Flag(help: "No progress bar.")
    var quiet = false
    @OptionGroup(title: "HiDiffusion")
    var hidiffusionOptions: HiDiffusionOptions

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps))") }
        guard cfgScale.isFinite else { throw ValidationError("--cfg-scale must be a finite number") }
        guard strength > 0 && strength <= 1 else {
            throw ValidationError("--strength must be in (0, 1] (got \(strength))")
        }
        if modelConfig != nil && model == nil {
            throw ValidationError("--model-config only applies with a single-file --model")
        }
        if initImage == nil && strength != 0.8 {
            throw ValidationError("--strength only applies with --init-image")
        }
    }

    func run() throws {
        let modelPath = try model ?? DemoModel.path()
        var request = GenerationRequest(
            prompt: prompt, negativePrompt: negativePrompt, width: width, height: height, steps: steps,
            guidanceScale: cfgScale, seed: seed ?? UInt64.random(in: 0..<(1 << 32)), scheduler: scheduler,
            karras: karras, initImage: initImage, strength: strength, prompt2: prompt2,
            negativePrompt2: negativePrompt2)
        hidiffusionOptions.apply(to: &request)
        let pipeline = try StableDiffusionPipeline(path: modelPath, configFolder: modelConfig)
        let initRGB = try initImage.map { try PNGReader.read($0) }
        var bar: ProgressBar?
        let latents = try pipeline.denoise(request, initImage: initRGB) { done, total in
            if bar == nil { bar = ProgressBar(total: total, label: "denoise", enabled: !quiet) }
            bar?.update(done)
        }
        if let saveLatents {
            try SafeTensorsWriter.write([("latents", latents)], to: saveLatents)
        }
        let image = try pipeline.decode(latents)
        let metadata = GenerationMetadata(request: request, pipeline: pipeline, width: image.width, height: image.height)
        try PNGWriter.write(image, to: output, textChunks: metadata.textChunks())
        if !quiet {
            FileHandle.standardError.write(Data("wrote \(output) (\(image.width)x\(image.height), seed \(request.seed))\n".utf8))
        }
    }
}
