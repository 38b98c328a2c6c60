import HiDiffImage
import HiDiffPipeline
import HiDiffSchedulers

/// `DuplicationGenerator` on a `StableDiffusionPipeline`: txt2img with an empty negative prompt, as
/// `eval_duplication.py` runs diffusers (DDIM, 25 steps, guidance 6 by default).
public struct PipelineGenerator: DuplicationGenerator, Sendable {
    public let pipeline: StableDiffusionPipeline
    public var steps: Int
    public var guidanceScale: Double
    /// nil: the model's own scheduler.
    public var scheduler: SchedulerKind?
    /// The HiDiffusion settings of `.hidiffusion` (default: the engine's defaults).
    public var hidiffusionSettings: HiDiffusionSettings

    public init(pipeline: StableDiffusionPipeline, steps: Int = 25, guidanceScale: Double = 6,
                scheduler: SchedulerKind? = .ddim, hidiffusionSettings: HiDiffusionSettings = HiDiffusionSettings()) {
        self.pipeline = pipeline
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.scheduler = scheduler
        self.hidiffusionSettings = hidiffusionSettings
    }

    public var nativeSize: Int { pipeline.nativeSize }

    /// The request of one benchmark image.
    public func request(prompt: String, size: Int, seed: UInt64, mode: DuplicationMode) -> GenerationRequest {
        var request = GenerationRequest(prompt: prompt, width: size, height: size, steps: steps,
                                        guidanceScale: guidanceScale, seed: seed, scheduler: scheduler)
        request.precision = pipeline.precision
        switch mode {
        case .direct:
            request.hidiffusion = .off
        case .hidiffusion:
            request.hidiffusion = .on
            request.hidiffusionSettings = hidiffusionSettings
        }
        return request
    }

    public func generate(prompt: String, size: Int, seed: UInt64, mode: DuplicationMode) throws -> RGBImage {
        let latents = try pipeline.denoise(request(prompt: prompt, size: size, seed: seed, mode: mode))
        return try pipeline.decode(latents)
    }
}
