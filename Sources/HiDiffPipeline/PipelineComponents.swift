import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffSchedulers

/// The models and settings a `StableDiffusionPipeline` is made of, loaded from a diffusers pipeline folder or
/// from a single-file checkpoint (`.safetensors` in the original Stable Diffusion layout).
///
/// Every weight is loaded here, so a wrong checkpoint fails before any compute with an error naming the tensor.
/// The U-Net's and the VAE's layer weights are kept at the requested precision; the text encoders stay
/// float32 (they run once per generation).
struct PipelineComponents {
    var family: ModelFamily
    var tokenizer: CLIPTokenizer
    var textEncoder: CLIPTextModel
    var tokenizer2: CLIPTokenizer?
    var textEncoder2: CLIPTextModel?
    var unet: UNet2DConditionModel
    var vae: AutoencoderKL
    var schedulerConfig: SchedulerConfig
    var forceZerosForEmptyPrompt: Bool

    /// Loads `path`: a diffusers folder, or a `.safetensors` file. For a file, `configFolder` (a diffusers
    /// folder; its weights are not read) supplies the component configs, tokenizers and scheduler instead of
    /// the conventions of the detected family.
    static func load(path: String, configFolder: String?, precision: Precision = .fp32) throws -> PipelineComponents {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw WeightError.fileNotFound(path: path)
        }
        if isDir.boolValue {
            if let configFolder {
                throw PipelineError.invalidRequest(field: "model config", reason: "\(configFolder) only applies to a single-file checkpoint, and \(path) is a folder")
            }
            return try folder(DiffusersFolder(path: path), name: path, precision: precision)
        }
        return try singleFile(SingleFileCheckpoint(path: path), configFolder: configFolder, precision: precision)
    }

    /// A diffusers pipeline folder; SDXL folders have `text_encoder_2` / `tokenizer_2`.
    static func folder(_ folder: DiffusersFolder, name: String, precision: Precision) throws -> PipelineComponents {
        let unet = try UNet2DConditionModel(config: folder.config("unet", as: UNetConfig.self),
                                            weights: folder.weights("unet").with(precision: precision))
        let scheduler = try folder.schedulerConfig()
        let family = ModelFamily.detect(unet: unet.config, name: name,
                                        trailingSpacing: scheduler.timestepSpacing == "trailing")
        let hasSecond = family != .sd
        return try PipelineComponents(
            family: family,
            tokenizer: CLIPTokenizer(directory: folder.componentPath("tokenizer")),
            textEncoder: CLIPTextModel(config: folder.config("text_encoder", as: CLIPTextConfig.self),
                                       weights: folder.weights("text_encoder")),
            tokenizer2: hasSecond ? CLIPTokenizer(directory: folder.componentPath("tokenizer_2")) : nil,
            textEncoder2: hasSecond ? CLIPTextModel(config: folder.config("text_encoder_2", as: CLIPTextConfig.self),
                                                    weights: folder.weights("text_encoder_2")) : nil,
            unet: unet,
            vae: AutoencoderKL(config: folder.config("vae", as: VAEConfig.self), weights: folder.weights("vae").with(precision: precision)),
            schedulerConfig: scheduler,
            forceZerosForEmptyPrompt: try forceZeros(folder))
    }

    /// SDXL pipelines' `force_zeros_for_empty_prompt` from model_index.json (diffusers' default: true).
    static func forceZeros(_ folder: DiffusersFolder) throws -> Bool {
        let index = folder.path + "/model_index.json"
        guard let data = FileManager.default.contents(atPath: index),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return true }
        return object["force_zeros_for_empty_prompt"] as? Bool ?? true
    }

    /// A single-file checkpoint, with configs from `configFolder` or derived from the tensors.
    static func singleFile(_ checkpoint: SingleFileCheckpoint, configFolder: String?,
                           precision: Precision) throws -> PipelineComponents {
        let sdxl = checkpoint.layout == .sdxl
        let name = URL(fileURLWithPath: checkpoint.path).lastPathComponent
        var unetConfig: UNetConfig, vaeConfig: VAEConfig, te1: CLIPTextConfig, te2: CLIPTextConfig?
        var tokenizer: CLIPTokenizer, tokenizer2: CLIPTokenizer?
        var scheduler: SchedulerConfig, forceZeros = true
        if let configFolder {
            let folder = try DiffusersFolder(path: configFolder)
            unetConfig = try folder.config("unet", as: UNetConfig.self)
            guard sdxl == (unetConfig.addition == "text_time") else {
                throw CheckpointError.unsupportedVariant(
                    file: checkpoint.path,
                    reason: "the tensors are in the \(checkpoint.layout.rawValue) layout but the U-Net config in "
                        + "\(configFolder) " + (sdxl ? "has no" : "has") + " \"text_time\" added conditioning")
            }
            vaeConfig = try folder.config("vae", as: VAEConfig.self)
            te1 = try folder.config("text_encoder", as: CLIPTextConfig.self)
            te2 = sdxl ? try folder.config("text_encoder_2", as: CLIPTextConfig.self) : nil
            tokenizer = try tokenizerIn(folder, "tokenizer", orBundledWithPad: checkpoint.layout == .sd2 ? "!" : "<|endoftext|>")
            tokenizer2 = sdxl ? try tokenizerIn(folder, "tokenizer_2", orBundledWithPad: "!") : nil
            scheduler = try folder.schedulerConfig()
            forceZeros = try Self.forceZeros(folder)
        } else {
            let derived = try checkpoint.derivedConfigs()
            (unetConfig, vaeConfig, te1, te2) = (derived.unet, derived.vae, derived.textEncoder, derived.textEncoder2)
            tokenizer = try CLIPTokenizer.bundled(padToken: checkpoint.layout == .sd2 ? "!" : "<|endoftext|>")
            tokenizer2 = sdxl ? try CLIPTokenizer.bundled(padToken: "!") : nil
            scheduler = try DefaultSchedulerConfigs.config(for: checkpoint.layout,
                                                           turbo: name.lowercased().contains("turbo"))
        }
        let unet = try UNet2DConditionModel(config: unetConfig, weights: checkpoint.weights(.unet).with(precision: precision))
        return try PipelineComponents(
            family: ModelFamily.detect(unet: unet.config, name: name,
                                       trailingSpacing: scheduler.timestepSpacing == "trailing"),
            tokenizer: tokenizer,
            textEncoder: CLIPTextModel(config: te1, weights: checkpoint.weights(.textEncoder)),
            tokenizer2: tokenizer2,
            textEncoder2: te2.map { try CLIPTextModel(config: $0, weights: checkpoint.weights(.textEncoder2)) },
            unet: unet,
            vae: AutoencoderKL(config: vaeConfig, weights: checkpoint.weights(.vae).with(precision: precision)),
            schedulerConfig: scheduler,
            forceZerosForEmptyPrompt: forceZeros)
    }

    /// The folder's tokenizer component when it has one, else the bundled vocabulary.
    static func tokenizerIn(_ folder: DiffusersFolder, _ component: String,
                            orBundledWithPad pad: String) throws -> CLIPTokenizer {
        let dir = folder.componentPath(component)
        if FileManager.default.fileExists(atPath: dir + "/vocab.json") { return try CLIPTokenizer(directory: dir) }
        return try CLIPTokenizer.bundled(padToken: pad)
    }
}
