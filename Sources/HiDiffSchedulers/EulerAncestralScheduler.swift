import HiDiffCore

/// diffusers' `EulerAncestralDiscreteScheduler`: an Euler step to `sigma_down` plus fresh noise of
/// `sigma_up`, drawn every step from the pipeline's generator.
public struct EulerAncestralScheduler: Scheduler {
    public let kind = SchedulerKind.eulerAncestral
    public let numInferenceSteps: Int
    public let timesteps: [Double]
    public let initNoiseSigma: Float
    /// The noise levels, one per timestep plus the final zero (float32).
    public let sigmas: [Float]

    private let prediction: PredictionType

    /// Builds the scheduler from `config` (Euler ancestral defaults for absent fields) and sets `steps`
    /// timesteps.
    public init(config: SchedulerConfig, steps: Int) throws {
        let name = SchedulerKind.eulerAncestral.className
        guard steps >= 1 else {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps, reason: "must be >= 1")
        }
        let schedule = try NoiseSchedule(config: config, scheduler: name, rescaleSupported: true)
        var alphasCumprod = schedule.alphasCumprod
        if config.rescaleBetasZeroSnr ?? false {
            alphasCumprod[alphasCumprod.count - 1] = 0x1p-24
        }
        prediction = try PredictionType(config.predictionType, scheduler: name, allowed: [.epsilon, .vPrediction])
        let spacing = try TimestepSpacing(config.timestepSpacing, default: .linspace, scheduler: name)
        numInferenceSteps = steps
        let floatTimesteps = spacing.floatTimesteps(steps: steps, trainSteps: schedule.numTrainTimesteps,
                                                    offset: config.stepsOffset ?? 0)
        let interpolated = NumPy.interp(floatTimesteps.map(Double.init), NoiseSchedule.sigmas(alphasCumprod))
        sigmas = interpolated.map { Float($0) } + [0]
        timesteps = floatTimesteps.map(Double.init)
        let maxSigma = sigmas.max() ?? 0
        initNoiseSigma = spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }

    public func scaleModelInput(_ sample: Tensor, timestepIndex: Int) -> Tensor {
        let sigma = sigmas[timestepIndex]
        let scale = (sigma * sigma + 1).squareRoot()
        return Elementwise.map(sample) { $0 / scale }
    }

    public mutating func step(modelOutput: Tensor, timestepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator?) -> Tensor {
        guard var g = generator else {
            preconditionFailure("EulerAncestralScheduler.step needs a generator: it draws fresh noise every step")
        }
        let sigma = sigmas[timestepIndex]
        let predOriginal: Tensor
        switch prediction {
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot(), d = sigma * sigma + 1
            predOriginal = Elementwise.map(modelOutput, sample) { m, s in m * c + s / d }
        default:
            predOriginal = Elementwise.map(sample, modelOutput) { s, m in s - sigma * m }
        }
        let sigmaFrom = sigma, sigmaTo = sigmas[timestepIndex + 1]
        let from2 = sigmaFrom * sigmaFrom, to2 = sigmaTo * sigmaTo
        let sigmaUp = (to2 * (from2 - to2) / from2).squareRoot()
        let sigmaDown = (to2 - sigmaUp * sigmaUp).squareRoot()
        let dt = sigmaDown - sigma
        let noise = g.randn(modelOutput.shape)
        generator = g
        return Elementwise.map(sample, predOriginal, noise) { s, x, n in
            (s + ((s - x) / sigma) * dt) + n * sigmaUp
        }
    }

    /// Empty: this scheduler keeps no history (its noise comes from the pipeline's generator).
    public func saveState() -> SchedulerState { saveEmptyState() }

    /// Accepts only the empty state.
    public mutating func restoreState(_ state: SchedulerState) throws { try restoreEmptyState(state) }

    public func addNoise(original: Tensor, noise: Tensor, timestepIndex: Int) -> Tensor {
        let sigma = sigmas[timestepIndex]
        return Elementwise.map(original, noise) { x, n in x + n * sigma }
    }
}
