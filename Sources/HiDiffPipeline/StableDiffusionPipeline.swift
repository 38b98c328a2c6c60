import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffSchedulers

/// A loaded Stable Diffusion model and the diffusers text-to-image / image-to-image procedure on it.
///
/// Loading reads every weight (memory-mapped, converted per tensor) so a wrong checkpoint fails before
/// any compute, with an error naming the tensor.
public struct StableDiffusionPipeline: Sendable {
    public let path: String
    public let family: ModelFamily
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    /// SDXL's second tokenizer and text encoder (OpenCLIP bigG with projection); nil for SD 1.x / 2.x.
    public let tokenizer2: CLIPTokenizer?
    public let textEncoder2: CLIPTextModel?
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfig: SchedulerConfig
    /// SDXL's `force_zeros_for_empty_prompt`: with guidance and no negative prompt, the unconditional
    /// text states are zeros instead of the encoded empty prompt.
    public let forceZerosForEmptyPrompt: Bool
    /// The precision the U-Net's and the VAE's layer weights are kept and multiplied in.
    public let precision: Precision

    /// Opens a diffusers pipeline folder, or a single-file checkpoint (`.safetensors` in the original
    /// Stable Diffusion layout: SD 1.x, SD 2.x, SDXL). For a single file, `configFolder` (a diffusers
    /// folder, weights unused) gives the component configs, tokenizers and scheduler; without it they
    /// follow the detected family's released models.
    /// `precision` bf16 keeps the U-Net's and the VAE's layer weights in bfloat16 (and throws
    /// `PrecisionError` where oneDNN cannot start).
    public init(path: String, configFolder: String? = nil, precision: Precision = .fp32) throws {
        try precision.checkAvailable()
        let c = try PipelineComponents.load(path: path, configFolder: configFolder, precision: precision)
        self.precision = precision
        self.path = path
        family = c.family
        tokenizer = c.tokenizer
        textEncoder = c.textEncoder
        tokenizer2 = c.tokenizer2
        textEncoder2 = c.textEncoder2
        unet = c.unet
        vae = c.vae
        schedulerConfig = c.schedulerConfig
        forceZerosForEmptyPrompt = c.forceZerosForEmptyPrompt
    }

    /// The VAE's downsampling factor (8 for every Stable Diffusion VAE).
    public var vaeScaleFactor: Int { vae.downsamplingFactor }

    /// The model's native image size in pixels (U-Net `sample_size` times the VAE factor).
    public var nativeSize: Int { (unet.config.sampleSize ?? 64) * vaeScaleFactor }

    /// The final latent of a generation, before VAE decoding: `denoise(_:initImage:control:)` run straight
    /// through.
    ///
    /// - Parameter windowShifts: replaces MSW-MSA's shift source (tests replay the authors' recorded draws).
    public func denoise(_ request: GenerationRequest, initImage: RGBImage? = nil,
                        windowShifts: WindowShiftSource? = nil,
                        progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        try denoise(request, initImage: initImage, control: DenoiseControl(progress: progress, windowShifts: windowShifts))
    }

    /// HiDiffusion for `request` at `width` x `height`, or nil when it does not run. Built fresh per
    /// generation: no state carries over (unlike the authors' module counters and aggressive flag).
    public func hidiffusion(for request: GenerationRequest, width: Int, height: Int) throws -> HiDiffusion? {
        let settings = request.hidiffusionSettings
        guard request.hidiffusion.isActive(width: width, height: height, nativeSize: nativeSize),
              settings.isEnabled else { return nil }
        let h = try HiDiffusion(family: request.family ?? family, nativeLatentSize: unet.config.sampleSize ?? 64,
                                settings: settings, seed: request.seed, modelName: path)
        try h.validate(unet.config)
        return h
    }

    /// Decodes a final latent to an image (diffusers' `vae.decode(latents / scaling_factor)` + postprocess).
    public func decode(_ latents: Tensor) throws -> RGBImage {
        try decode(latents, collective: SingleShard())!
    }

    /// `decode` by the ranks of a sharded run: each decodes its stripe of the whole latent (as
    /// `StripePlan` splits it for a plain run) and the image rows are sent to rank 0, which returns the whole
    /// image; the other ranks return nil (the image is the result, which rank 0 alone reports).
    public func decode(_ latents: Tensor, collective: any Collective) throws -> RGBImage? {
        let image: Tensor
        if collective.size == 1 {
            image = try vae.decode(latents / vae.config.scalingFactor)
        } else {
            let plan = try StripePlan(latentHeight: latents.dim(2), parts: collective.size, unit: stripeUnit(hidiffusion: false))
            let stripe = latents.stripe(collective.rank, rows: plan.rows) / vae.config.scalingFactor
            guard let whole = try collective.gatherRowsToFirst(try vae.decode(stripe, collective: collective),
                                                               axis: 2, kind: .image) else { return nil }
            image = whole
        }
        guard image.isFinite else {
            throw PipelineError.nonFinite(what: "the decoded image", step: nil,
                                          hint: "check the VAE's weights and scaling_factor")
        }
        return RGBImage(tensor: image)
    }

    /// The VAE posterior of an init image, each rank encoding its stripe (the latent plan's rows times the
    /// VAE factor) and the moments gathered, so every rank holds the whole distribution.
    func encode(_ image: Tensor, plan: StripePlan, collective: any Collective) throws -> LatentDistribution {
        guard plan.parts > 1 else { return try vae.encode(image) }
        let f = vaeScaleFactor
        let stripe = image.stripe(collective.rank, rows: plan.rows.map { $0 * f })
        let part = try vae.encode(stripe, collective: collective)
        // The clamp LatentDistribution applies is idempotent, so re-splitting the gathered moments is exact.
        let moments = Tensor.concat([part.mean, part.logvar], axis: 1)
        return LatentDistribution(moments: try collective.allGather(moments, axis: 2, kind: .latent))
    }

    /// The output size: the request's, the init image's, or the model's native size; multiples of the VAE factor.
    func resolveSize(_ request: GenerationRequest, initImage: RGBImage?) throws -> (Int, Int) {
        let f = vaeScaleFactor
        if let initImage {
            if let w = request.width, w != initImage.width {
                throw PipelineError.invalidRequest(field: "width", reason: "\(w) differs from the init image's width \(initImage.width); img2img keeps the init image's size")
            }
            if let h = request.height, h != initImage.height {
                throw PipelineError.invalidRequest(field: "height", reason: "\(h) differs from the init image's height \(initImage.height); img2img keeps the init image's size")
            }
            guard initImage.width % f == 0, initImage.height % f == 0 else {
                throw PipelineError.invalidRequest(field: "init image", reason: "\(initImage.width)x\(initImage.height) is not a multiple of \(f) on both sides")
            }
            return (initImage.width, initImage.height)
        }
        let w = request.width ?? nativeSize, h = request.height ?? nativeSize
        for (name, v) in [("width", w), ("height", h)] where v <= 0 || v % f != 0 {
            throw PipelineError.invalidRequest(field: name, reason: "\(v) must be a positive multiple of \(f)")
        }
        return (w, h)
    }
}
