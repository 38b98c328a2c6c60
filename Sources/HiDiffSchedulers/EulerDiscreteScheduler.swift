import Foundation
import HiDiffCore

/// diffusers' `EulerDiscreteScheduler` (Karras et al. 2022, algorithm 2 without churn), optionally with
/// Karras sigmas.
public struct EulerDiscreteScheduler: Scheduler {
    public let kind = SchedulerKind.euler
    public let numInferenceSteps: Int
    public let timesteps: [Double]
    public let initNoiseSigma: Float
    /// The noise levels, one per timestep plus the final one (float32, as diffusers stores them).
    public let sigmas: [Float]

    private let prediction: PredictionType

    /// Builds the scheduler from `config` (Euler defaults for absent fields) and sets `steps` timesteps.
    public init(config: SchedulerConfig, steps: Int) throws {
        let name = SchedulerKind.euler.className
        guard steps >= 1 else {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps, reason: "must be >= 1")
        }
        let schedule = try NoiseSchedule(config: config, scheduler: name, rescaleSupported: true)
        var alphasCumprod = schedule.alphasCumprod
        if config.rescaleBetasZeroSnr ?? false {
            alphasCumprod[alphasCumprod.count - 1] = 0x1p-24  // keeps the last sigma finite
        }
        prediction = try PredictionType(config.predictionType, scheduler: name,
                                        allowed: [.epsilon, .vPrediction, .sample])
        if let type = config.timestepType, type != "discrete" {
            throw SchedulerError.unsupported(scheduler: name, field: "timestep_type", value: type)
        }
        if let interpolation = config.interpolationType, interpolation != "linear" {
            throw SchedulerError.unsupported(scheduler: name, field: "interpolation_type", value: interpolation)
        }
        let spacing = try TimestepSpacing(config.timestepSpacing, default: .linspace, scheduler: name)
        numInferenceSteps = steps
        let trainSigmas = NoiseSchedule.sigmas(alphasCumprod)
        let floatTimesteps = spacing.floatTimesteps(steps: steps, trainSteps: schedule.numTrainTimesteps,
                                                    offset: config.stepsOffset ?? 0)
        var sigmasDouble = NumPy.interp(floatTimesteps.map(Double.init), trainSigmas)
        var timestepValues = floatTimesteps.map(Double.init)
        if config.useKarrasSigmas ?? false {
            let logSigmas = trainSigmas.map { Foundation.log($0) }
            sigmasDouble = NumPy.karras(sigmaMin: config.sigmaMin ?? sigmasDouble[sigmasDouble.count - 1],
                                        sigmaMax: config.sigmaMax ?? sigmasDouble[0], num: steps)
            timestepValues = sigmasDouble.map { Double(Float(NumPy.sigmaToT($0, logSigmas: logSigmas))) }
        }
        let last: Float
        switch config.finalSigmasType ?? "zero" {
        case "zero": last = 0
        case "sigma_min": last = ((1 - alphasCumprod[0]) / alphasCumprod[0]).squareRoot()
        case let other:
            throw SchedulerError.invalid(scheduler: name, field: "final_sigmas_type", value: other,
                                         expected: "zero or sigma_min")
        }
        sigmas = sigmasDouble.map { Float($0) } + [last]
        timesteps = timestepValues
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
        let sigma = sigmas[timestepIndex]
        // diffusers draws churn noise every step even though s_churn = 0 leaves it unused; drawing it keeps
        // the generator's stream where diffusers leaves it.
        if var g = generator {
            _ = g.randn(modelOutput.shape)
            generator = g
        }
        let sigmaHat = sigma  // sigma * (gamma + 1) with gamma = 0
        let predOriginal: Tensor
        switch prediction {
        case .epsilon:
            predOriginal = Elementwise.map(sample, modelOutput) { s, m in s - sigmaHat * m }
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot(), d = sigma * sigma + 1
            predOriginal = Elementwise.map(modelOutput, sample) { m, s in m * c + s / d }
        case .sample:
            predOriginal = modelOutput
        }
        let dt = sigmas[timestepIndex + 1] - sigmaHat
        return Elementwise.map(sample, predOriginal) { s, x in s + ((s - x) / sigmaHat) * dt }
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
