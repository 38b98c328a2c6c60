import Foundation
import HiDiffCore

/// diffusers' `DPMSolverMultistepScheduler` with `algorithm_type = "dpmsolver++"` (Lu et al. 2022):
/// DPM-Solver++ 2M by default (`solver_order` 1-3, midpoint or Heun second-order update), optionally with
/// Karras sigmas.
public struct DPMSolverMultistepScheduler: Scheduler {
    public let kind = SchedulerKind.dpmSolverMultistep
    public let numInferenceSteps: Int
    public let timesteps: [Double]
    public let initNoiseSigma: Float = 1
    /// The noise levels, one per timestep plus the final one (float32).
    public let sigmas: [Float]

    private let prediction: PredictionType
    private let solverOrder: Int
    private let heun: Bool
    private let lowerOrderFinal: Bool
    private let eulerAtFinal: Bool
    private let finalSigmaZero: Bool

    // Multistep history: the last `solverOrder` data predictions, oldest first.
    private var modelOutputs: [Tensor?]
    private var lowerOrderNums = 0

    /// Builds the scheduler from `config` (DPM-Solver defaults for absent fields) and sets `steps` timesteps.
    public init(config: SchedulerConfig, steps: Int) throws {
        let name = SchedulerKind.dpmSolverMultistep.className
        guard steps >= 1 else {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps, reason: "must be >= 1")
        }
        let schedule = try NoiseSchedule(config: config, scheduler: name, rescaleSupported: true)
        var alphasCumprod = schedule.alphasCumprod
        if config.rescaleBetasZeroSnr ?? false {
            alphasCumprod[alphasCumprod.count - 1] = 0x1p-24
        }
        let algorithm = config.algorithmType ?? "dpmsolver++"
        guard algorithm == "dpmsolver++" || algorithm == "deis" else {  // diffusers maps deis to dpmsolver++
            throw SchedulerError.unsupported(scheduler: name, field: "algorithm_type", value: algorithm)
        }
        switch config.solverType ?? "midpoint" {
        case "midpoint", "logrho", "bh1", "bh2": heun = false  // diffusers maps the UniPC/DEIS names to midpoint
        case "heun": heun = true
        case let other:
            throw SchedulerError.invalid(scheduler: name, field: "solver_type", value: other,
                                         expected: "midpoint or heun")
        }
        solverOrder = config.solverOrder ?? 2
        guard (1...3).contains(solverOrder) else {
            throw SchedulerError.unsupported(scheduler: name, field: "solver_order", value: "\(solverOrder)")
        }
        if config.thresholding ?? false {
            throw SchedulerError.unsupported(scheduler: name, field: "thresholding", value: "true")
        }
        if config.useLuLambdas ?? false {
            throw SchedulerError.unsupported(scheduler: name, field: "use_lu_lambdas", value: "true")
        }
        if let variance = config.varianceType, variance == "learned" || variance == "learned_range" {
            throw SchedulerError.unsupported(scheduler: name, field: "variance_type", value: variance)
        }
        prediction = try PredictionType(config.predictionType, scheduler: name,
                                        allowed: [.epsilon, .vPrediction, .sample])
        lowerOrderFinal = config.lowerOrderFinal ?? true
        eulerAtFinal = config.eulerAtFinal ?? false
        let spacing = try TimestepSpacing(config.timestepSpacing, default: .linspace, scheduler: name)
        let trainSteps = schedule.numTrainTimesteps

        // lambda_min_clipped cuts the schedule where log(alpha/sigma) drops below it (searchsorted, left).
        let lambdaMin = config.lambdaMinClipped ?? -Double.infinity
        let clippedCount = alphasCumprod.filter { ac in
            let lambda = Foundation.log(ac.squareRoot()) - Foundation.log((1 - ac).squareRoot())
            return lambda < Float(lambdaMin)
        }.count
        let lastTimestep = trainSteps - clippedCount
        var intTimesteps: [Int]
        switch spacing {
        case .linspace:
            intTimesteps = NumPy.linspace(0, Double(lastTimestep - 1), steps + 1).map { Int(NumPy.round($0)) }
                .reversed().dropLast()
        case .leading:
            let ratio = lastTimestep / (steps + 1)
            intTimesteps = (0...steps).map { $0 * ratio + (config.stepsOffset ?? 0) }.reversed().dropLast()
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            intTimesteps = NumPy.arange(Double(lastTimestep), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
        let trainSigmas = NoiseSchedule.sigmas(alphasCumprod)
        var sigmaValues: [Double]
        if config.useKarrasSigmas ?? false {
            let logSigmas = trainSigmas.map { Foundation.log($0) }
            sigmaValues = NumPy.karras(sigmaMin: Double(trainSigmas[0]), sigmaMax: Double(trainSigmas[trainSteps - 1]),
                                       num: steps)
            intTimesteps = sigmaValues.map { Int(NumPy.round(NumPy.sigmaToT($0, logSigmas: logSigmas))) }
        } else {
            sigmaValues = NumPy.interp(intTimesteps.map(Double.init), trainSigmas)
        }
        let last: Float
        switch config.finalSigmasType ?? "zero" {
        case "zero": last = 0
        case "sigma_min": last = ((1 - alphasCumprod[0]) / alphasCumprod[0]).squareRoot()
        case let other:
            throw SchedulerError.invalid(scheduler: name, field: "final_sigmas_type", value: other,
                                         expected: "zero or sigma_min")
        }
        // Two equal noise levels make the second-order step divide by zero (as in diffusers, whose image
        // is then black): e.g. 999 or 1000 "leading" steps over 1000 training steps repeat a timestep.
        if let i = (1..<max(sigmaValues.count, 1)).first(where: { !(sigmaValues[$0] < sigmaValues[$0 - 1]) }) {
            throw SchedulerError.invalidSteps(
                scheduler: name, steps: steps,
                reason: "steps \(i - 1) and \(i) fall on the same noise level (timesteps \(intTimesteps[i - 1]) and \(intTimesteps[i]) of \(trainSteps) training steps, \(spacing) spacing); use fewer steps")
        }
        finalSigmaZero = (config.finalSigmasType ?? "zero") == "zero"
        sigmas = sigmaValues.map { Float($0) } + [last]
        timesteps = intTimesteps.map(Double.init)
        numInferenceSteps = steps
        modelOutputs = Array(repeating: nil, count: solverOrder)
    }

    public func scaleModelInput(_ sample: Tensor, timestepIndex: Int) -> Tensor { sample }

    /// `_sigma_to_alpha_sigma_t`: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t.
    private static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    private static func lambda(_ a: (alpha: Float, sigma: Float)) -> Float {
        Foundation.log(a.alpha) - Foundation.log(a.sigma)
    }

    public mutating func step(modelOutput: Tensor, timestepIndex i: Int, sample: Tensor,
                              generator: inout TorchGenerator?) -> Tensor {
        let count = timesteps.count
        let finalLower = i == count - 1 && (eulerAtFinal || (lowerOrderFinal && count < 15) || finalSigmaZero)
        let secondLower = i == count - 2 && lowerOrderFinal && count < 15

        let x0 = convert(modelOutput, sample: sample, sigma: sigmas[i])
        modelOutputs.removeFirst()
        modelOutputs.append(x0)

        let prev: Tensor
        if solverOrder == 1 || lowerOrderNums < 1 || finalLower {
            prev = firstOrder(x0, sample: sample, i: i)
        } else if solverOrder == 2 || lowerOrderNums < 2 || secondLower {
            prev = secondOrder(sample: sample, i: i)
        } else {
            prev = thirdOrder(sample: sample, i: i)
        }
        if lowerOrderNums < solverOrder { lowerOrderNums += 1 }
        return prev
    }

    /// `convert_model_output`: the data prediction x0.
    private func convert(_ modelOutput: Tensor, sample: Tensor, sigma: Float) -> Tensor {
        let (alpha, sigmaT) = Self.alphaSigma(sigma)
        switch prediction {
        case .epsilon: return Elementwise.map(sample, modelOutput) { s, m in (s - sigmaT * m) / alpha }
        case .sample: return modelOutput
        case .vPrediction: return Elementwise.map(sample, modelOutput) { s, m in alpha * s - sigmaT * m }
        }
    }

    private func firstOrder(_ x0: Tensor, sample: Tensor, i: Int) -> Tensor {
        let t = Self.alphaSigma(sigmas[i + 1]), s = Self.alphaSigma(sigmas[i])
        let h = Self.lambda(t) - Self.lambda(s)
        let a = t.sigma / s.sigma
        let b = t.alpha * (Foundation.exp(-h) - 1)
        return Elementwise.map(sample, x0) { x, m in a * x - b * m }
    }

    private func secondOrder(sample: Tensor, i: Int) -> Tensor {
        let t = Self.alphaSigma(sigmas[i + 1]), s0 = Self.alphaSigma(sigmas[i]), s1 = Self.alphaSigma(sigmas[i - 1])
        let lambdaT = Self.lambda(t), lambdaS0 = Self.lambda(s0), lambdaS1 = Self.lambda(s1)
        let m0 = modelOutputs[solverOrder - 1]!, m1 = modelOutputs[solverOrder - 2]!
        let h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1
        let r0 = h0 / h
        let invR0 = 1 / r0
        let a = t.sigma / s0.sigma
        let expm1 = Foundation.exp(-h) - 1
        let b = t.alpha * expm1
        if heun {
            let c = t.alpha * (expm1 / h + 1)
            return Elementwise.map(sample, m0, m1) { x, d0, p in
                let d1 = invR0 * (d0 - p)
                return a * x - b * d0 + c * d1
            }
        }
        let c = 0.5 * b
        return Elementwise.map(sample, m0, m1) { x, d0, p in
            let d1 = invR0 * (d0 - p)
            return a * x - b * d0 - c * d1
        }
    }

    private func thirdOrder(sample: Tensor, i: Int) -> Tensor {
        let t = Self.alphaSigma(sigmas[i + 1]), s0 = Self.alphaSigma(sigmas[i])
        let s1 = Self.alphaSigma(sigmas[i - 1]), s2 = Self.alphaSigma(sigmas[i - 2])
        let lambdaT = Self.lambda(t), lambdaS0 = Self.lambda(s0)
        let lambdaS1 = Self.lambda(s1), lambdaS2 = Self.lambda(s2)
        let m0 = modelOutputs[2]!, m1 = modelOutputs[1]!, m2 = modelOutputs[0]!
        let h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1, h1 = lambdaS1 - lambdaS2
        let r0 = h0 / h, r1 = h1 / h
        let invR0 = 1 / r0, invR1 = 1 / r1
        let mix = r0 / (r0 + r1), invSum = 1 / (r0 + r1)
        let a = t.sigma / s0.sigma
        let expm1 = Foundation.exp(-h) - 1
        let b = t.alpha * expm1
        let c = t.alpha * (expm1 / h + 1)
        let d = t.alpha * ((expm1 + h) / (h * h) - 0.5)
        let first = Elementwise.map(m0, m1, m2) { p0, p1, p2 in
            let d10 = invR0 * (p0 - p1), d11 = invR1 * (p1 - p2)
            return d10 + mix * (d10 - d11)
        }
        let second = Elementwise.map(m0, m1, m2) { p0, p1, p2 in
            let d10 = invR0 * (p0 - p1), d11 = invR1 * (p1 - p2)
            return invSum * (d10 - d11)
        }
        return Elementwise.map(sample, m0, first, second) { x, d0, d1, d2 in
            a * x - b * d0 + c * d1 - d * d2
        }
    }

    /// The multistep history: `solver_order`, `lower_order_nums` and the stored data predictions
    /// `model_outputs.<k>` (slot k of `solver_order`, oldest first; empty slots are absent).
    public func saveState() -> SchedulerState {
        var tensors: [String: Tensor] = [:]
        for (k, output) in modelOutputs.enumerated() {
            if let output { tensors["model_outputs.\(k)"] = output }
        }
        return SchedulerState(integers: ["solver_order": solverOrder, "lower_order_nums": lowerOrderNums],
                              tensors: tensors)
    }

    /// Restores the history; the last `lower_order_nums` slots must hold a prediction and the others none,
    /// as every run leaves them.
    public mutating func restoreState(_ state: SchedulerState) throws {
        let order = try state.integer("solver_order", in: solverOrder...solverOrder, scheduler: kind)
        let count = try state.integer("lower_order_nums", in: 0...order, scheduler: kind)
        try state.expect(integers: ["solver_order", "lower_order_nums"],
                         tensors: Set((order - count..<order).map { "model_outputs.\($0)" }), scheduler: kind)
        modelOutputs = (0..<order).map { state.tensors["model_outputs.\($0)"] }
        lowerOrderNums = count
    }

    public func addNoise(original: Tensor, noise: Tensor, timestepIndex: Int) -> Tensor {
        let (alpha, sigma) = Self.alphaSigma(sigmas[timestepIndex])
        return Elementwise.map(original, noise) { x, n in alpha * x + sigma * n }
    }
}
