import HiDiffCore
import HiDiffSchedulers

/// Everything a denoising loop needs to continue from between two steps, in this or another process:
/// the latents, the scheduler's history and the random generator's position; plus what it was made for
/// (scheduler, steps, seed, latent shape, img2img start), which the pipeline checks against the request it
/// resumes.
///
/// A run resumed from a checkpoint ends in exactly the latent an uninterrupted run ends in (bit for bit)
/// with the same model and the same OpenBLAS kernels (`kernels`; 1, 2 or 3 threads gave identical bits).
/// `serialized()` gives one self-describing blob (safetensors bytes, the scalars in its metadata);
/// `init(serialized:)` reads and validates it.
public struct DenoiseCheckpoint: Sendable, Equatable {
    /// The timestep index the next U-Net call runs (an absolute index into the scheduler's `timesteps`).
    public var nextIndex: Int
    /// Steps done so far: `nextIndex` minus the img2img start index (0 for txt2img).
    public var completedSteps: Int
    /// The latents after `completedSteps` steps, [1, C, H/8, W/8].
    public var latents: Tensor
    /// The scheduler's history after those steps.
    public var scheduler: SchedulerState
    /// The pipeline generator's position after those steps (nil for a run without one).
    public var generator: TorchGenerator.State?

    /// The scheduler kind the run uses (the request's, or the model's default).
    public var schedulerKind: SchedulerKind
    /// The request's `karras`.
    public var karras: Bool
    /// The request's `steps`.
    public var steps: Int
    /// The request's `seed`.
    public var seed: UInt64
    /// The number of steps of the whole run (U-Net calls; fewer than `steps` for img2img).
    public var totalSteps: Int
    /// The OpenBLAS kernels the run used (`OpenBLASCoreType.corename`, e.g. `Cooperlake`); nil when unknown.
    /// Informational, not checked: a resume is bit for bit the uninterrupted run only on the same kernels
    /// (others round differently, e.g. SkylakeX vs Cooperlake: latents then agree to about 1e-6 relative).
    public var kernels: String?

    /// A checkpoint from its parts (the pipeline makes them; see `DenoiseControl`).
    public init(nextIndex: Int, completedSteps: Int, latents: Tensor, scheduler: SchedulerState,
                generator: TorchGenerator.State?, schedulerKind: SchedulerKind, karras: Bool, steps: Int,
                seed: UInt64, totalSteps: Int, kernels: String? = nil) {
        self.nextIndex = nextIndex
        self.completedSteps = completedSteps
        self.latents = latents
        self.scheduler = scheduler
        self.generator = generator
        self.schedulerKind = schedulerKind
        self.karras = karras
        self.steps = steps
        self.seed = seed
        self.totalSteps = totalSteps
        self.kernels = kernels
    }

    /// The timestep index the run started at (img2img's start index; 0 for txt2img).
    public var startIndex: Int { nextIndex - completedSteps }

    /// The latent shape the checkpoint was made for.
    public var latentShape: [Int] { latents.shape }

    /// True when every step is done: resuming returns `latents` without running the U-Net.
    public var isComplete: Bool { completedSteps == totalSteps }

    /// Throws `DenoiseCheckpointError.mismatch` unless the checkpoint was made for a run with these parameters.
    func checkMatches(kind: SchedulerKind, karras: Bool, steps: Int, seed: UInt64, latentShape: [Int],
                      startIndex: Int, totalSteps: Int) throws {
        func check<T: Equatable>(_ field: String, _ mine: T, _ theirs: T) throws {
            guard mine == theirs else {
                throw DenoiseCheckpointError.mismatch(field: field, checkpoint: "\(mine)", request: "\(theirs)")
            }
        }
        try check("scheduler", schedulerKind.rawValue, kind.rawValue)
        try check("karras", self.karras, karras)
        try check("steps", self.steps, steps)
        try check("seed", self.seed, seed)
        try check("latent shape", self.latentShape, latentShape)
        try check("start index (img2img strength)", self.startIndex, startIndex)
        try check("total steps", self.totalSteps, totalSteps)
    }
}
