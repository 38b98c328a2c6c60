import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers

/// `hidiff generate`: text-to-image and image-to-image on this machine (the embedded default engine).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate an image from a prompt (or from an init image).")

    @Option(help: "A diffusers pipeline folder, or a single-file checkpoint (.safetensors in the original SD 1.x / 2.x / SDXL layout). Default: the bundled demo model.")
    var model: String?
    @Option(help: "With a single-file --model: a diffusers folder whose configs, tokenizers and scheduler to use (its weights are not read). Default: those of the detected family's released model.")
    var modelConfig: String?
    @OptionGroup var generation: GenerationOptions
    @Option(help: "Render exactly this request: a JSON file as `hidiff status --json` shows a job's `request` (and the PNG's `hidiff` chunk stores it). Replaces --prompt and the other image flags.")
    var request: String?
    @Option(name: [.short, .long], help: "Output PNG path.")
    var output: String = "hidiff.png"
    @Option(help: "Also save the final latent (before VAE decoding) as safetensors, tensor name `latents`.")
    var saveLatents: String?
    @Option(help: "Refuse a generation whose estimated peak memory exceeds this many bytes (default: this machine's memory).")
    var maxMemory: Int64?
    @Flag(help: "No progress bar.")
    var quiet = false
    @Flag(help: "Also say which kernels run (OpenBLAS's core type, oneDNN's instruction set) and the precision.")
    var verbose = false

    func validate() throws {
        if request != nil && generation.prompt != nil { throw ValidationError("give --prompt or --request, not both") }
        guard generation.prompt != nil || request != nil else { throw ValidationError("Missing expected argument '--prompt <prompt>'") }
        if let maxMemory, maxMemory <= 0 { throw ValidationError("--max-memory must be a positive number of bytes") }
        if modelConfig != nil && model == nil {
            throw ValidationError("--model-config only applies with a single-file --model")
        }
        // Outputs are checked before any work: a missing folder is not found out after the whole generation.
        try CLIFiles.checkOutput(output, what: "-o")
        if let saveLatents { try CLIFiles.checkOutput(saveLatents, what: "--save-latents") }
        try CLIFiles.checkDistinct([("-o", output), ("--save-latents", saveLatents), ("--init-image", generation.initImage),
                                    ("--request", request)])
    }

    func run() throws {
        let modelPath = try model ?? DemoModel.path()
        let request = try self.request.map(Self.loadRequest)
            ?? generation.request(prompt: generation.prompt ?? "", seed: generation.seed ?? GenerationOptions.randomSeed())
        let pipeline = try StableDiffusionPipeline(path: modelPath, configFolder: modelConfig, precision: request.precision)
        if verbose {
            FileHandle.standardError.write(Data("precision \(request.precision); kernels: \(KernelSummary.text)\n".utf8))
        }
        let initRGB = try request.initImage.map { path -> RGBImage in
            guard let data = try CLIFiles.readRegularFile(path, what: "--init-image", limit: 256 << 20) else {
                throw ValidationError("--init-image \(path) is empty")
            }
            return try PNGReader.read(bytes: [UInt8](data), name: path)
        }
        try pipeline.checkMemory(request, initImage: initRGB, limit: maxMemory ?? Int64(ProcessInfo.processInfo.physicalMemory),
                                 hint: "the limit is --max-memory (default: this machine's memory); make the image smaller, "
                                     + "or render it on a cluster with `hidiff submit --workers K`, which splits it over K machines")
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

    /// A stored request (JSON) from `path`.
    static func loadRequest(_ path: String) throws -> GenerationRequest {
        guard let data = try CLIFiles.readRegularFile(path, what: "--request", limit: 16 << 20) else {
            throw ValidationError("--request \(path) is empty")
        }
        let request: GenerationRequest
        do {
            request = try GenerationRequest(json: data)
        } catch {
            throw ValidationError("--request \(path) is not a generation request: \(error)")
        }
        if let (field, reason) = request.problem() {
            throw ValidationError("--request \(path): \(field.rawValue) \(reason)")
        }
        return request
    }
}
