import HiDiffCore

/// diffusers' `PNDMScheduler`: pseudo numerical methods (Liu et al. 2022). With `skip_prk_steps` (Stable
/// Diffusion's setting) it is PLMS, a linear multistep method; otherwise four Runge-Kutta-like warm-up rounds
/// run first.
public struct PNDMScheduler: Scheduler {
    public let kind = SchedulerKind.pndm
    public let numInferenceSteps: Int
    public let timesteps: [Double]
    public let initNoiseSigma: Float = 1

    private let schedule: NoiseSchedule
    private let finalAlphaCumprod: Float
    private let vPrediction: Bool
    private let skipPRK: Bool
    private let prkCount: Int
    private let trainSteps: Int

    // Step history, as diffusers keeps it on the scheduler.
    private var counter = 0
    private var ets: [Tensor] = []
    private var curSample: Tensor?
    private var curModelOutput: Tensor?

    /// Builds the scheduler from `config` (PNDM defaults for absent fields) and sets `steps` timesteps.
    public init(config: SchedulerConfig, steps: Int) throws {
        let name = SchedulerKind.pndm.className
        guard steps >= 1 else {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps, reason: "must be >= 1")
        }
        schedule = try NoiseSchedule(config: config, scheduler: name, rescaleSupported: false)
        trainSteps = schedule.numTrainTimesteps
        finalAlphaCumprod = (config.setAlphaToOne ?? false) ? 1 : schedule.alphasCumprod[0]
        switch config.predictionType ?? "epsilon" {
        case "epsilon": vPrediction = false
        case "v_prediction": vPrediction = true
        case let other:
            throw SchedulerError.invalid(scheduler: name, field: "prediction_type", value: other,
                                         expected: "epsilon or v_prediction")
        }
        skipPRK = config.skipPrkSteps ?? false
        numInferenceSteps = steps
        let spacing = try TimestepSpacing(config.timestepSpacing, default: .leading, scheduler: name)
        let ascending = Array(spacing.integerTimesteps(steps: steps, trainSteps: trainSteps,
                                                       offset: config.stepsOffset ?? 0).reversed())
        var all: [Int]
        if skipPRK {
            // concat(t[:-1], t[-2:-1], t[-1:])[::-1]: the second-to-last timestep is repeated.
            var plms = Array(ascending.dropLast())
            if ascending.count >= 2 { plms.append(ascending[ascending.count - 2]) }
            plms.append(ascending[ascending.count - 1])
            all = plms.reversed()
            prkCount = 0
        } else {
            guard steps >= 4 else {
                throw SchedulerError.invalidSteps(scheduler: name, steps: steps,
                                                  reason: "Runge-Kutta warm-up (skip_prk_steps false) needs >= 4")
            }
            let half = trainSteps / steps / 2
            var prk: [Int] = []
            for t in ascending.suffix(4) { prk += [t, t + half] }
            // prk[:-1].repeat(2)[1:-1][::-1]
            var doubled: [Int] = []
            for t in prk.dropLast() { doubled += [t, t] }
            let middle = Array(doubled.dropFirst().dropLast()).reversed()
            all = Array(middle) + Array(ascending.dropLast(3).reversed())
            prkCount = middle.count
        }
        timesteps = all.map(Double.init)
        // "trailing" spacing at some step counts (499 over 1000) reaches timestep -1, which diffusers reads
        // as the last entry of its table (a wrong image); refused here instead.
        for t in all where t < 0 || t >= trainSteps {
            throw SchedulerError.invalidSteps(scheduler: name, steps: steps,
                                              reason: "timestep \(t) is outside the \(trainSteps) training steps (0..<\(trainSteps)); use fewer steps")
        }
    }

    public func scaleModelInput(_ sample: Tensor, timestepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, timestepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator?) -> Tensor {
        let timestep = Int(timesteps[timestepIndex])
        if counter < prkCount && !skipPRK {
            return stepPRK(modelOutput, timestep, sample)
        }
        return stepPLMS(modelOutput, timestep, sample)
    }

    private mutating func stepPRK(_ modelOutput: Tensor, _ timestepIn: Int, _ sample: Tensor) -> Tensor {
        let diffToPrev = counter % 2 != 0 ? 0 : trainSteps / numInferenceSteps / 2
        let prevTimestep = timestepIn - diffToPrev
        let timestep = Int(timesteps[counter / 4 * 4])
        var output = modelOutput
        let sixth = Float(1.0 / 6.0), third = Float(1.0 / 3.0)
        switch counter % 4 {
        case 0:
            curModelOutput = accumulate(curModelOutput, modelOutput, sixth)
            ets.append(modelOutput)
            curSample = sample
        case 1, 2:
            curModelOutput = accumulate(curModelOutput, modelOutput, third)
        default:
            let current = curModelOutput ?? Tensor(zeros: modelOutput.shape)
            output = Elementwise.map(current, modelOutput) { c, m in c + sixth * m }
            curModelOutput = nil
        }
        let prev = previousSample(curSample ?? sample, timestep, prevTimestep, output)
        counter += 1
        return prev
    }

    /// `cur_model_output += weight * model_output` (starting from the integer 0, so -0 becomes +0).
    private func accumulate(_ current: Tensor?, _ modelOutput: Tensor, _ weight: Float) -> Tensor {
        guard let current else { return Elementwise.map(modelOutput) { 0 + weight * $0 } }
        return Elementwise.map(current, modelOutput) { c, m in c + weight * m }
    }

    private mutating func stepPLMS(_ modelOutput: Tensor, _ timestepIn: Int, _ sampleIn: Tensor) -> Tensor {
        let ratio = trainSteps / numInferenceSteps
        var timestep = timestepIn
        var prevTimestep = timestep - ratio
        if counter != 1 {
            ets = Array(ets.suffix(3))
            ets.append(modelOutput)
        } else {
            prevTimestep = timestep
            timestep = timestep + ratio
        }
        var sample = sampleIn
        let output: Tensor
        let e = ets
        switch (e.count, counter) {
        case (1, 0):
            output = modelOutput
            curSample = sample
        case (1, 1):
            output = Elementwise.map(modelOutput, e[0]) { m, e1 in (m + e1) / 2 }
            sample = curSample ?? sample
            curSample = nil
        case (2, _):
            output = Elementwise.map(e[1], e[0]) { e1, e2 in (3 * e1 - e2) / 2 }
        case (3, _):
            output = Elementwise.map(e[2], e[1], e[0]) { e1, e2, e3 in (23 * e1 - 16 * e2 + 5 * e3) / 12 }
        default:
            let w = Float(1.0 / 24.0)
            output = Elementwise.map(e[e.count - 1], e[e.count - 2], e[e.count - 3], e[e.count - 4]) {
                e1, e2, e3, e4 in w * (55 * e1 - 59 * e2 + 37 * e3 - 9 * e4)
            }
        }
        let prev = previousSample(sample, timestep, prevTimestep, output)
        counter += 1
        return prev
    }

    /// Formula (9) of the PNDM paper, in float32 as diffusers' `_get_prev_sample`.
    private func previousSample(_ sample: Tensor, _ timestep: Int, _ prevTimestep: Int,
                                _ modelOutputIn: Tensor) -> Tensor {
        let alphaProd = schedule.alphasCumprod[timestep]
        let alphaProdPrev = prevTimestep >= 0 ? schedule.alphasCumprod[prevTimestep] : finalAlphaCumprod
        let betaProd = 1 - alphaProd
        let betaProdPrev = 1 - alphaProdPrev
        var modelOutput = modelOutputIn
        if vPrediction {
            let a = alphaProd.squareRoot(), b = betaProd.squareRoot()
            modelOutput = Elementwise.map(modelOutputIn, sample) { m, s in a * m + b * s }
        }
        let sampleCoeff = (alphaProdPrev / alphaProd).squareRoot()
        let denom = alphaProd * betaProdPrev.squareRoot() + (alphaProd * betaProd * alphaProdPrev).squareRoot()
        let diff = alphaProdPrev - alphaProd
        return Elementwise.map(sample, modelOutput) { s, m in sampleCoeff * s - diff * m / denom }
    }

    /// The step history: `counter`, the past model outputs `ets.<k>` (`ets_count` of them, oldest first)
    /// and, while they hold a tensor, the warm-up buffers `cur_sample` and `cur_model_output`.
    public func saveState() -> SchedulerState {
        var tensors: [String: Tensor] = [:]
        for (k, e) in ets.enumerated() { tensors["ets.\(k)"] = e }
        if let curSample { tensors["cur_sample"] = curSample }
        if let curModelOutput { tensors["cur_model_output"] = curModelOutput }
        return SchedulerState(integers: ["counter": counter, "ets_count": ets.count], tensors: tensors)
    }

    /// Restores the history; what it holds must be what `counter` steps leave.
    public mutating func restoreState(_ state: SchedulerState) throws {
        let steps = try state.integer("counter", in: 0...timesteps.count, scheduler: kind)
        let layout = historyLayout(afterSteps: steps)
        _ = try state.integer("ets_count", in: layout.ets...layout.ets, scheduler: kind)
        var names = Set((0..<layout.ets).map { "ets.\($0)" })
        if layout.curSample { names.insert("cur_sample") }
        if layout.curModelOutput { names.insert("cur_model_output") }
        try state.expect(integers: ["counter", "ets_count"], tensors: names, scheduler: kind)
        counter = steps
        ets = (0..<layout.ets).map { state.tensors["ets.\($0)"]! }
        curSample = state.tensors["cur_sample"]
        curModelOutput = state.tensors["cur_model_output"]
    }

    /// How many past outputs `n` steps leave in `ets`, and whether `cur_sample` / `cur_model_output` then
    /// hold a tensor: the bookkeeping of `stepPRK` and `stepPLMS` without the arithmetic.
    private func historyLayout(afterSteps n: Int) -> (ets: Int, curSample: Bool, curModelOutput: Bool) {
        var ets = 0, curSample = false, curModelOutput = false
        for c in 0..<n {
            if c < prkCount && !skipPRK {
                switch c % 4 {
                case 0: curModelOutput = true; ets += 1; curSample = true
                case 1, 2: curModelOutput = true
                default: curModelOutput = false
                }
            } else {
                if c != 1 { ets = min(ets, 3) + 1 }
                if ets == 1 && c == 0 { curSample = true } else if ets == 1 && c == 1 { curSample = false }
            }
        }
        return (ets, curSample, curModelOutput)
    }

    public func addNoise(original: Tensor, noise: Tensor, timestepIndex: Int) -> Tensor {
        let alphaProd = schedule.alphasCumprod[Int(timesteps[timestepIndex])]
        let a = alphaProd.squareRoot(), b = (1 - alphaProd).squareRoot()
        return Elementwise.map(original, noise) { x, n in a * x + b * n }
    }
}
