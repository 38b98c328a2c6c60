import HiDiffCore

/// diffusers' `DDIMScheduler` (Song et al. 2021) with the pipeline's `eta` (0 = deterministic DDIM).
public struct DDIMScheduler: Scheduler {
    public let kind = SchedulerKind.ddim
    public let numInferenceSteps: Int
    public let timesteps: [Double]
    public let initNoiseSigma: Float = 1
    /// The training `alphas_cumprod` (float32, cumulative product of float32 alphas).
    public let alphasCumprod: [Float]

    private let finalAlphaCumprod: Float
    private let prediction: PredictionType
    private let clipRange: Float?
    private let eta: Float
    private let trainSteps: Int

    /// Builds the scheduler from `config` (DDIM defaults for absent fields) and sets `steps` timesteps.
    public init(config: SchedulerConfig, steps: Int, eta: Float = 0) throws {
        let name = SchedulerKind.ddim.className
        let schedule = try NoiseSchedule(config: config, scheduler: name, rescaleSupported: true)
        trainSteps = schedule.numTrainTimesteps
        guard steps >= 1 && steps <= trainSteps else {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps,
                                              reason: "must be between 1 and num_train_timesteps = \(trainSteps)")
        }
        if config.thresholding ?? false {
            throw SchedulerError.unsupported(scheduler: name, field: "thresholding", value: "true")
        }
        alphasCumprod = schedule.alphasCumprod
        finalAlphaCumprod = (config.setAlphaToOne ?? true) ? 1 : alphasCumprod[0]
        prediction = try PredictionType(config.predictionType, scheduler: name,
                                        allowed: [.epsilon, .vPrediction, .sample])
        clipRange = (config.clipSample ?? true) ? Float(config.clipSampleRange ?? 1) : nil
        self.eta = eta
        numInferenceSteps = steps
        let spacing = try TimestepSpacing(config.timestepSpacing, default: .leading, scheduler: name)
        timesteps = spacing.integerTimesteps(steps: steps, trainSteps: trainSteps, offset: config.stepsOffset ?? 0)
            .map(Double.init)
        if let bad = timesteps.first(where: { $0 < 0 || $0 >= Double(trainSteps) }) {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps,
                                              reason: "timestep \(Int(bad)) is outside 0..<\(trainSteps)")
        }
    }

    public func scaleModelInput(_ sample: Tensor, timestepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, timestepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator?) -> Tensor {
        let timestep = Int(timesteps[timestepIndex])
        let prevTimestep = timestep - trainSteps / numInferenceSteps
        let alphaProd = alphasCumprod[timestep]
        let alphaProdPrev = prevTimestep >= 0 ? alphasCumprod[prevTimestep] : finalAlphaCumprod
        let betaProd = 1 - alphaProd
        let sqrtAlpha = alphaProd.squareRoot(), sqrtBeta = betaProd.squareRoot()

        var predOriginal: Tensor
        let predEpsilon: Tensor
        switch prediction {
        case .epsilon:
            predOriginal = Elementwise.map(sample, modelOutput) { s, m in (s - sqrtBeta * m) / sqrtAlpha }
            predEpsilon = modelOutput
        case .sample:
            predOriginal = modelOutput
            predEpsilon = Elementwise.map(sample, modelOutput) { s, m in (s - sqrtAlpha * m) / sqrtBeta }
        case .vPrediction:
            predOriginal = Elementwise.map(sample, modelOutput) { s, m in sqrtAlpha * s - sqrtBeta * m }
            predEpsilon = Elementwise.map(modelOutput, sample) { m, s in sqrtAlpha * m + sqrtBeta * s }
        }
        if let r = clipRange {
            predOriginal = Elementwise.map(predOriginal) { min(max($0, -r), r) }
        }
        // _get_variance: sigma_t^2 of the DDIM paper, formula (16).
        let betaProdPrev = 1 - alphaProdPrev
        let variance = (betaProdPrev / betaProd) * (1 - alphaProd / alphaProdPrev)
        let stdDev = eta * variance.squareRoot()
        let directionCoeff = (1 - alphaProdPrev - stdDev * stdDev).squareRoot()
        let sqrtAlphaPrev = alphaProdPrev.squareRoot()
        var prev = Elementwise.map(predOriginal, predEpsilon) { x, e in sqrtAlphaPrev * x + directionCoeff * e }
        if eta > 0 {
            guard var g = generator else {
                preconditionFailure("DDIMScheduler.step with eta > 0 needs a generator for its variance noise")
            }
            let noise = g.randn(modelOutput.shape)
            generator = g
            prev = Elementwise.map(prev, noise) { p, n in p + stdDev * n }
        }
        return prev
    }

    /// Empty: this scheduler keeps no history (its noise comes from the pipeline's generator).
    public func saveState() -> SchedulerState { saveEmptyState() }

    /// Accepts only the empty state.
    public mutating func restoreState(_ state: SchedulerState) throws { try restoreEmptyState(state) }

    public func addNoise(original: Tensor, noise: Tensor, timestepIndex: Int) -> Tensor {
        let alphaProd = alphasCumprod[Int(timesteps[timestepIndex])]
        let a = alphaProd.squareRoot(), b = (1 - alphaProd).squareRoot()
        return Elementwise.map(original, noise) { x, n in a * x + b * n }
    }
}
