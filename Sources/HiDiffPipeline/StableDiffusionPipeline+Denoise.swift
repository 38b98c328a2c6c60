import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffSchedulers

extension StableDiffusionPipeline {
    /// The final latent of a generation, before VAE decoding, under `control`: started fresh or resumed
    /// from a checkpoint, checkpointed as it goes, stoppable between steps.
    ///
    /// A run resumed from a checkpoint (in any process) ends in exactly the latent of the uninterrupted
    /// run, for every scheduler, txt2img and img2img (pass the same `initImage`: it sets the size and the
    /// start index; it is not encoded again), with or without HiDiffusion (whose per-call schedule depends
    /// only on the call index and whose window shifts are a seeded hash).
    ///
    /// - Throws: `PipelineError.invalidRequest`, `.stopped(atStep:)` when `control.shouldStop` asked;
    ///   `DenoiseCheckpointError` when `control.resumeFrom` does not fit the request; what `onCheckpoint` throws.
    public func denoise(_ request: GenerationRequest, initImage: RGBImage?, control: DenoiseControl) throws -> Tensor {
        // The same limits as the command line's, here too: requests also come from the network and from files.
        try request.validate()
        guard control.checkpointEvery >= 0 else {
            throw PipelineError.invalidRequest(field: "checkpointEvery", reason: "\(control.checkpointEvery) must be >= 0")
        }
        let (width, height) = try resolveSize(request, initImage: initImage)
        let f = vaeScaleFactor
        let guided = request.guidanceScale > 1
        let kind = try request.scheduler ?? schedulerConfig.defaultKind()
        var scheduler = try kind.makeScheduler(config: schedulerConfig, steps: request.steps, karras: request.karras)
        let shape = [1, unet.config.inChannels, height / f, width / f]
        let count = scheduler.timesteps.count
        let start = initImage == nil ? 0 : scheduler.img2imgStartIndex(strength: request.strength)
        guard start < count else {
            throw PipelineError.invalidRequest(field: "strength",
                                               reason: "\(request.strength) with \(request.steps) steps runs no step")
        }
        // N is the number of U-Net calls actually run (img2img's truncated schedule), as diffusers'
        // `_num_timesteps` is; HiDiffusion's call k is the step index minus the start, whatever the resume point.
        let total = count - start
        let collective = control.collective
        let hidiffusion = try self.hidiffusion(for: request, width: width, height: height)
        let plan = try StripePlan(latentHeight: shape[2], parts: collective.size,
                                  unit: stripeUnit(hidiffusion: hidiffusion != nil))
        func checkpoint(next: Int, latents: Tensor, scheduler: any Scheduler, generator: TorchGenerator?) -> DenoiseCheckpoint {
            DenoiseCheckpoint(nextIndex: next, completedSteps: next - start, latents: latents,
                              scheduler: scheduler.saveState(), generator: generator?.state, schedulerKind: kind,
                              karras: request.karras, steps: request.steps, seed: request.seed, totalSteps: total,
                              kernels: OpenBLASCoreType.corename)
        }

        var generator: TorchGenerator?
        var latents: Tensor
        var next = start
        if let resume = control.resumeFrom {
            try resume.checkMatches(kind: kind, karras: request.karras, steps: request.steps, seed: request.seed,
                                    latentShape: shape, startIndex: start, totalSteps: total)
            guard let state = resume.generator else {
                throw DenoiseCheckpointError.corrupt(reason: "no generator state (every run of this pipeline has one)")
            }
            do {
                generator = try TorchGenerator(state: state)
                try scheduler.restoreState(resume.scheduler)
            } catch {
                throw DenoiseCheckpointError.corrupt(reason: "\(error)")
            }
            latents = resume.latents
            next = resume.nextIndex
        } else {
            generator = TorchGenerator(seed: request.seed)
            if let initImage {
                // diffusers draws the VAE posterior sample first, then the noise, from the same generator.
                let posterior = try encode(initImage.toTensor(), plan: plan, collective: collective)
                let encoded = posterior.sample(noise: generator!.randn(posterior.mean.shape)) * vae.config.scalingFactor
                let noise = generator!.randn(encoded.shape)
                latents = scheduler.addNoise(original: encoded, noise: noise, timestepIndex: start)
            } else {
                latents = generator!.randn(shape) * scheduler.initNoiseSigma
            }
        }
        if next == count {  // a complete checkpoint: nothing left to run
            control.progress?(total, total)
            return latents
        }

        let conditioning = try conditioning(for: request, width: width, height: height, guided: guided)
        var windowed = hidiffusion
        if let windowShifts = control.windowShifts { windowed?.windowAttention?.shift = windowShifts }
        control.progress?(next - start, total)
        for i in next..<count {
            if control.shouldStop?() == true {
                try control.onCheckpoint?(checkpoint(next: i, latents: latents, scheduler: scheduler, generator: generator))
                throw PipelineError.stopped(atStep: i - start)
            }
            let t = Float(scheduler.timesteps[i])
            var input = scheduler.scaleModelInput(latents, timestepIndex: i)
            if guided { input = Tensor.concat([input, input], axis: 0) }
            let call = windowed?.callContext(callIndex: i - start, callCount: total, latentHeight: shape[2],
                                             latentWidth: shape[3], collective: collective)
                ?? UNetCallContext(callIndex: i - start, callCount: total, collective: collective)
            var eps = try unet(plan.parts > 1 ? input.stripe(collective.rank, rows: plan.rows) : input, timestep: t,
                               encoderHiddenStates: conditioning.context, added: conditioning.added, context: call)
            if plan.parts > 1 { eps = try collective.allGather(eps, axis: 2, kind: .latent) }
            if guided {
                let halves = eps.chunked(2, axis: 0)
                let g = Float(request.guidanceScale)
                eps = halves[0] + (halves[1] - halves[0]) * g
            }
            latents = scheduler.step(modelOutput: eps, timestepIndex: i, sample: latents, generator: &generator)
            let done = i - start + 1
            // A NaN or infinity never heals: stop here rather than decode a black image.
            guard latents.isFinite else {
                throw PipelineError.nonFinite(what: "the latents", step: done,
                                              hint: "lower --cfg-scale, try another scheduler or step count, or check the model's weights")
            }
            control.progress?(done, total)
            control.onLatents?(latents, done, total)
            if control.checkpointEvery > 0, done % control.checkpointEvery == 0 {
                try control.onCheckpoint?(checkpoint(next: i + 1, latents: latents, scheduler: scheduler, generator: generator))
            }
        }
        return latents
    }
}
