import HiDiffCore

/// A noise scheduler as diffusers runs it in a Stable Diffusion pipeline.
///
/// The pipeline calls `makeScheduler` (which runs diffusers' `set_timesteps`), multiplies the initial noise by
/// `initNoiseSigma`, then for each index `i` of `timesteps` (from `img2imgStartIndex` for img2img):
/// `scaleModelInput(latents, timestepIndex: i)` -> U-Net at `timesteps[i]` -> `step(...)`.
/// Steps must be taken in order; schedulers keep history (PNDM, DPM-Solver) between steps.
public protocol Scheduler: Sendable {
    /// The kind of scheduler.
    var kind: SchedulerKind { get }
    /// The number of inference steps requested (diffusers' `num_inference_steps` in the pipeline).
    var numInferenceSteps: Int { get }
    /// diffusers' `scheduler.timesteps`: the values the U-Net is called with (integers for PNDM, DDIM and
    /// DPM-Solver; float32 values for the Euler schedulers). PNDM has one more entry than steps.
    var timesteps: [Double] { get }
    /// The factor diffusers multiplies the initial txt2img noise by.
    var initNoiseSigma: Float { get }
    /// The U-Net input for the latents at `timesteps[timestepIndex]`.
    func scaleModelInput(_ sample: Tensor, timestepIndex: Int) -> Tensor
    /// One denoising step from `sample` at `timesteps[timestepIndex]` given the U-Net output; returns the
    /// previous (less noisy) sample. Ancestral schedulers draw noise from `generator`, continuing its stream
    /// exactly as diffusers does with the pipeline's generator.
    mutating func step(modelOutput: Tensor, timestepIndex: Int, sample: Tensor,
                       generator: inout TorchGenerator?) -> Tensor
    /// diffusers' `add_noise(original, noise, timesteps[timestepIndex])` for img2img's initial latents.
    func addNoise(original: Tensor, noise: Tensor, timestepIndex: Int) -> Tensor
    /// The history `step` has accumulated so far (empty for schedulers without history).
    func saveState() -> SchedulerState
    /// Replaces the history with `state`, as `saveState()` of a scheduler of the same kind and configuration
    /// reported it, so the next `step` continues bit for bit as that scheduler's would have.
    ///
    /// - Throws: `SchedulerError.invalidState` when `state` cannot come from this scheduler (other entries,
    ///   counters out of range or inconsistent with the history, tensors of different shapes); the
    ///   scheduler is unchanged then.
    mutating func restoreState(_ state: SchedulerState) throws
}

extension Scheduler {
    /// `saveState()` for schedulers without history.
    func saveEmptyState() -> SchedulerState { SchedulerState() }

    /// `restoreState(_:)` for schedulers without history: only an empty state is accepted.
    func restoreEmptyState(_ state: SchedulerState) throws {
        try state.expect(integers: [], tensors: [], scheduler: kind)
    }

    /// The first timestep index img2img runs for `strength` (diffusers' `get_timesteps`, which also
    /// becomes the scheduler's `begin_index`). Equal to `timesteps.count` minus the number of steps run;
    /// `timesteps.count` when `strength` is too small to run any step.
    public func img2imgStartIndex(strength: Double) -> Int {
        let initTimestep = min(Int(Double(numInferenceSteps) * strength), numInferenceSteps)
        return max(numInferenceSteps - initTimestep, 0)
    }
}
