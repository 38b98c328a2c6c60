import Foundation

/// The training noise schedule shared by all schedulers: betas and `alphas_cumprod` in float32 exactly as
/// diffusers' scheduler constructors compute them with torch.
struct NoiseSchedule: Sendable {
    let numTrainTimesteps: Int
    let betas: [Float]
    let alphasCumprod: [Float]

    /// - Parameter rescaleSupported: whether the scheduler class has `rescale_betas_zero_snr` (PNDM does
    ///   not, so the field is ignored there as `from_config` ignores unknown keys).
    init(config: SchedulerConfig, scheduler: String, rescaleSupported: Bool) throws {
        let n = config.numTrainTimesteps ?? 1000
        guard n >= 2, n <= SchedulerConfig.maxTrainTimesteps else {
            throw SchedulerError.invalid(scheduler: scheduler, field: "num_train_timesteps", value: "\(n)",
                                         expected: "2...\(SchedulerConfig.maxTrainTimesteps)")
        }
        try config.checkValues(file: "scheduler config")
        let betaStart = config.betaStart ?? 0.0001
        let betaEnd = config.betaEnd ?? 0.02
        var betas: [Float]
        if let trained = config.trainedBetas {
            guard trained.count == n else {
                throw SchedulerError.invalid(scheduler: scheduler, field: "trained_betas",
                                             value: "\(trained.count) values",
                                             expected: "num_train_timesteps = \(n) values")
            }
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule ?? "linear" {
            case "linear":
                betas = TorchMath.linspace(betaStart, betaEnd, n)
            case "scaled_linear":
                betas = TorchMath.linspace(betaStart.squareRoot(), betaEnd.squareRoot(), n).map { $0 * $0 }
            case "squaredcos_cap_v2":
                betas = Self.cosineBetas(n)
            case let other:
                throw SchedulerError.unsupported(scheduler: scheduler, field: "beta_schedule", value: other)
            }
        }
        if rescaleSupported && (config.rescaleBetasZeroSnr ?? false) {
            betas = Self.rescaleZeroTerminalSNR(betas)
        }
        numTrainTimesteps = n
        self.betas = betas
        alphasCumprod = TorchMath.cumprod(betas.map { 1 - $0 })
    }

    /// `sqrt((1 - alphas_cumprod) / alphas_cumprod)` in float32 (diffusers' training sigmas, ascending).
    static func sigmas(_ alphasCumprod: [Float]) -> [Float] {
        alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// `betas_for_alpha_bar` with the cosine transform (computed in Python doubles, stored as float32).
    private static func cosineBetas(_ n: Int) -> [Float] {
        func alphaBar(_ t: Double) -> Double {
            let c = Foundation.cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<n).map { i in
            let t1 = Double(i) / Double(n), t2 = Double(i + 1) / Double(n)
            return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
        }
    }

    /// `rescale_zero_terminal_snr` (Lin et al. 2023, algorithm 1) in float32 torch arithmetic.
    private static func rescaleZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        let cumprod = TorchMath.cumprod(betas.map { 1 - $0 })
        var sqrtBar = cumprod.map { $0.squareRoot() }
        let first = sqrtBar[0], last = sqrtBar[sqrtBar.count - 1]
        let scale = first / (first - last)
        sqrtBar = sqrtBar.map { ($0 - last) * scale }
        let bar = sqrtBar.map { $0 * $0 }
        var alphas = [bar[0]]
        for i in 1..<bar.count { alphas.append(bar[i] / bar[i - 1]) }
        return alphas.map { 1 - $0 }
    }
}
