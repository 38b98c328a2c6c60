import HiDiffCore

/// How a caller steers one denoising run: resume it from a checkpoint, take checkpoints as it goes, stop
/// it between steps, follow its progress. Every field is optional; the default runs straight through.
///
/// The closures are called synchronously on the thread running `denoise`, between U-Net calls.
public struct DenoiseControl {
    /// Continue this checkpoint's run instead of starting one; it must have been made for the same request
    /// (scheduler, steps, seed, latent shape, img2img strength), else `denoise` throws
    /// `DenoiseCheckpointError.mismatch` before any compute. The result is bit for bit the uninterrupted run's.
    public var resumeFrom: DenoiseCheckpoint?
    /// Hand a checkpoint to `onCheckpoint` after every step whose completed-step count is a multiple of
    /// this (counted from the start of the run, so a resumed run checkpoints at the same steps); 0: never.
    /// The final step counts too: that checkpoint `isComplete` and resumes without any U-Net call.
    public var checkpointEvery: Int
    /// Receives each checkpoint (from `checkpointEvery` and on a stop); an error it throws ends the run.
    public var onCheckpoint: ((DenoiseCheckpoint) throws -> Void)?
    /// Asked before each step (so after each step but the last, and once before the first): when it
    /// returns true, `denoise` hands the checkpoint of that point to `onCheckpoint` and throws
    /// `PipelineError.stopped(atStep:)` with the number of steps done. Once every step is done the result
    /// is returned whatever it says.
    public var shouldStop: (() -> Bool)?
    /// Called with (steps done, total steps) at the start (steps done: the checkpoint's when resuming) and
    /// after each step.
    public var progress: ((Int, Int) -> Void)?
    /// Called after each step, right after `progress`, with the latents after it, the steps done and the
    /// total (for previews: see `LatentPreview`). Nil costs nothing.
    public var onLatents: ((Tensor, Int, Int) -> Void)?
    /// Replaces MSW-MSA's shift source (tests replay the authors' recorded draws); nil: the request's.
    public var windowShifts: WindowShiftSource?
    /// This rank's link to the other ranks of a sharded run (`SingleShard()`: one node, the default). Every
    /// rank runs `denoise` with the same request and keeps the whole latent; the U-Net (and the VAE for
    /// img2img) runs on the rank's stripe of `StripePlan` and the model outputs are gathered, so the
    /// scheduler steps, noise draws and checkpoints are the single-node ones on every rank.
    public var collective: any Collective = SingleShard()

    /// A control with the given parts; `DenoiseControl()` runs straight through.
    public init(resumeFrom: DenoiseCheckpoint? = nil, checkpointEvery: Int = 0,
                onCheckpoint: ((DenoiseCheckpoint) throws -> Void)? = nil, shouldStop: (() -> Bool)? = nil,
                progress: ((Int, Int) -> Void)? = nil, windowShifts: WindowShiftSource? = nil) {
        self.resumeFrom = resumeFrom
        self.checkpointEvery = checkpointEvery
        self.onCheckpoint = onCheckpoint
        self.shouldStop = shouldStop
        self.progress = progress
        self.windowShifts = windowShifts
    }
}
