import HiDiffCore
import HiDiffSchedulers

/// Everything that determines a generated image; recorded in full in the PNG's metadata.
public struct GenerationRequest: Codable, Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    /// SDXL: the second text encoder's prompt (nil or empty: the prompt).
    public var prompt2: String?
    /// SDXL: the second text encoder's negative prompt (nil or empty: the negative prompt).
    public var negativePrompt2: String?
    /// Pixels; nil: the model's native size (or the init image's size for img2img).
    public var width: Int?
    public var height: Int?
    public var steps: Int
    /// Classifier-free guidance scale; at or below 1 the unconditional pass is skipped, as diffusers does.
    public var guidanceScale: Double
    public var seed: UInt64
    /// nil: the model's own scheduler (its scheduler config's class).
    public var scheduler: SchedulerKind?
    /// Karras sigmas (Euler, DPM-Solver++).
    public var karras: Bool
    /// img2img: the start image (PNG path) and how much of the schedule to run over it (0...1].
    public var initImage: String?
    public var strength: Double
    /// HiDiffusion: whether it runs, and how (RAU-Net, MSW-MSA, thresholds, window shifts).
    public var hidiffusion: HiDiffusionMode = .auto
    public var hidiffusionSettings = HiDiffusionSettings()
    /// Overrides the family detected from the model's configuration (which decides HiDiffusion's layout).
    public var family: ModelFamily?
    /// The arithmetic of the U-Net and the VAE: fp32 (exact, the default) or bf16. Part of the request, so
    /// every stripe of a sharded job and a resumed job run the same arithmetic.
    public var precision: Precision = .fp32

    public init(prompt: String, negativePrompt: String = "", width: Int? = nil, height: Int? = nil,
                steps: Int = 50, guidanceScale: Double = 7.5, seed: UInt64 = 0, scheduler: SchedulerKind? = nil,
                karras: Bool = false, initImage: String? = nil, strength: Double = 0.8,
                prompt2: String? = nil, negativePrompt2: String? = nil) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.width = width
        self.height = height
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.seed = seed
        self.scheduler = scheduler
        self.karras = karras
        self.initImage = initImage
        self.strength = strength
        self.prompt2 = prompt2
        self.negativePrompt2 = negativePrompt2
    }

    /// Decodes a stored or sent request: `prompt` and `seed` are required; every other field may be absent or
    /// null and then takes the default `init` gives it (so a client need not spell out defaults).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = GenerationRequest(prompt: "")
        prompt = try c.decode(String.self, forKey: .prompt)
        seed = try c.decode(UInt64.self, forKey: .seed)
        negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt) ?? d.negativePrompt
        prompt2 = try c.decodeIfPresent(String.self, forKey: .prompt2)
        negativePrompt2 = try c.decodeIfPresent(String.self, forKey: .negativePrompt2)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
        guidanceScale = try c.decodeIfPresent(Double.self, forKey: .guidanceScale) ?? d.guidanceScale
        scheduler = try c.decodeIfPresent(SchedulerKind.self, forKey: .scheduler)
        karras = try c.decodeIfPresent(Bool.self, forKey: .karras) ?? d.karras
        initImage = try c.decodeIfPresent(String.self, forKey: .initImage)
        strength = try c.decodeIfPresent(Double.self, forKey: .strength) ?? d.strength
        hidiffusion = try c.decodeIfPresent(HiDiffusionMode.self, forKey: .hidiffusion) ?? d.hidiffusion
        hidiffusionSettings = try c.decodeIfPresent(HiDiffusionSettings.self, forKey: .hidiffusionSettings)
            ?? d.hidiffusionSettings
        family = try c.decodeIfPresent(ModelFamily.self, forKey: .family)
        precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? d.precision
    }

    enum CodingKeys: String, CodingKey {
        case prompt, width, height, steps, seed, scheduler, karras, strength
        case negativePrompt = "negative_prompt"
        case guidanceScale = "guidance_scale"
        case initImage = "init_image"
        case hidiffusion
        case hidiffusionSettings = "hidiffusion_settings"
        case family, precision
        case prompt2 = "prompt_2"
        case negativePrompt2 = "negative_prompt_2"
    }
}
