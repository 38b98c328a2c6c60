import HiDiffCore
import HiDiffSchedulers
import XCTest

/// Every scheduler case of `schedulers.json` against diffusers 0.29.2: timesteps, sigmas and
/// `init_noise_sigma` exactly; then the stepped trajectory replayed step by step (each step starts from the
/// reference sample, with the reference script's synthetic model output), img2img truncation and `add_noise`.
final class SchedulerOracleTests: XCTestCase {
    /// Step outputs may differ from torch by float32 rounding in transcendental functions (DPM-Solver's log
    /// and exp) and torch's MKL sqrt; the bound is relative to the larger of the step's input and output.
    static let relativeTolerance: Float = 2e-6
    /// torch's float32 `sqrt` on this oracle machine comes from MKL's vector math, which is not correctly
    /// rounded (about 16% of results are 1 ulp off); sigmas built from it may differ by that much.
    static let sigmaULPTolerance = 2
    static let karrasTimestepTolerance = 1e-3
    static let zeroSNRULPTolerance = 64
    static let zeroSNRSigmaULPTolerance = 8

    static func ulpDistance(_ a: Float, _ b: Float) -> Int {
        if a == b { return 0 }
        guard a.sign == b.sign, a.isFinite, b.isFinite else { return Int.max }
        return abs(Int(a.bitPattern) - Int(b.bitPattern))
    }

    func testPNDM() throws { try check(.pndm) }
    func testDDIM() throws { try check(.ddim) }
    func testEuler() throws { try check(.euler) }
    func testEulerAncestral() throws { try check(.eulerAncestral) }
    func testDPMSolverMultistep() throws { try check(.dpmSolverMultistep) }

    private func check(_ kind: SchedulerKind) throws {
        let fixtures = try SchedulerFixtures.shared.get()
        let cases = fixtures.cases.filter { $0.kind == kind }
        XCTAssertGreaterThan(cases.count, 20, "too few \(kind) cases in the fixtures")
        var steps = 0, exactSteps = 0, worst: Float = 0, worstCase = ""
        var sigmaCount = 0, sigmaExact = 0, sigmaWorstULP = 0, timestepWorst = 0.0
        for c in cases {
            var scheduler = try kind.makeScheduler(config: c.config, steps: c.steps, karras: c.karras,
                                                   eta: Float(c.eta ?? 0))
            XCTAssertEqual(scheduler.timesteps.count, c.timesteps.count, "\(c.name): timestep count")
            if c.karras {
                // Karras timesteps interpolate log-sigmas (numpy's SIMD logf there, libm here).
                for (mine, reference) in zip(scheduler.timesteps, c.timesteps) {
                    timestepWorst = max(timestepWorst, abs(mine - reference))
                    XCTAssertEqual(mine, reference, accuracy: Self.karrasTimestepTolerance, "\(c.name): timesteps")
                }
            } else {
                XCTAssertEqual(scheduler.timesteps, c.timesteps, "\(c.name): timesteps")
            }
            // Zero-terminal-SNR schedules inherit the few-ulp differences of their rescaled alphas_cumprod.
            let sigmaTolerance = c.config.rescaleBetasZeroSnr == true ? Self.zeroSNRSigmaULPTolerance
                : Self.sigmaULPTolerance
            if let sigmas = c.sigmas, let mine = sigmasOf(scheduler) {
                XCTAssertEqual(mine.count, sigmas.count, "\(c.name): sigma count")
                for (a, b) in zip(mine, sigmas) {
                    let ulps = Self.ulpDistance(a, Float(b))
                    sigmaCount += 1
                    if ulps == 0 { sigmaExact += 1 }
                    sigmaWorstULP = max(sigmaWorstULP, ulps)
                    XCTAssertLessThanOrEqual(ulps, sigmaTolerance, "\(c.name): sigma \(a) vs \(b)")
                }
            }
            XCTAssertLessThanOrEqual(Self.ulpDistance(scheduler.initNoiseSigma, Float(c.initNoiseSigma)),
                                     sigmaTolerance, "\(c.name): init_noise_sigma")

            var start = 0
            if let strength = c.strength {
                start = scheduler.img2imgStartIndex(strength: strength)
                XCTAssertEqual(start, c.startIndex, "\(c.name): img2img start index")
                XCTAssertEqual(scheduler.timesteps.count - start, c.runCount, "\(c.name): img2img step count")
                let noisy = scheduler.addNoise(original: try fixtures.tensor("\(c.name).original"),
                                               noise: try fixtures.tensor("\(c.name).noise"), timestepIndex: start)
                let reference = try fixtures.tensor("\(c.name).noisy")
                XCTAssertLessThanOrEqual(noisy.maxAbsDifference(reference),
                                         Self.relativeTolerance * reference.maxAbs, "\(c.name): add_noise")
            } else {
                XCTAssertEqual(scheduler.timesteps.count, c.runCount, "\(c.name): step count")
            }
            guard c.trajectory else { continue }

            let base = try fixtures.tensor("\(c.name).base")
            var sample = try fixtures.tensor("\(c.name).sample")
            var generator: TorchGenerator? = TorchGenerator(seed: c.seed)
            for k in 0..<c.runCount {
                let i = start + k
                let input = scheduler.scaleModelInput(sample, timestepIndex: i)
                let (a, b) = SchedulerCase.coefficients(k)
                let modelOutput = Tensor(shape: input.shape, data: zip(input.data, base.data).map { $0 * a + $1 * b })
                if k == 0 {
                    let reference = try fixtures.tensor("\(c.name).model_output.0")
                    XCTAssertLessThanOrEqual(modelOutput.maxAbsDifference(reference),
                                             Self.relativeTolerance * reference.maxAbs,
                                             "\(c.name): scale_model_input / synthetic model output at step 0")
                }
                let prev = scheduler.step(modelOutput: modelOutput, timestepIndex: i, sample: sample,
                                          generator: &generator)
                let reference = try fixtures.tensor("\(c.name).prev.\(k)")
                let error = prev.maxAbsDifference(reference)
                let relative = error / max(reference.maxAbs, sample.maxAbs, .leastNormalMagnitude)
                XCTAssertLessThanOrEqual(relative, Self.relativeTolerance,
                                         "\(c.name): step \(k) (timestep \(scheduler.timesteps[i])) error \(error)")
                steps += 1
                if prev.data.map(\.bitPattern) == reference.data.map(\.bitPattern) { exactSteps += 1 }
                if relative > worst { worst = relative; worstCase = "\(c.name) step \(k)" }
                sample = reference
            }
        }
        print("[\(kind.rawValue)] \(cases.count) cases, \(steps) steps replayed, \(exactSteps) bit-exact, "
              + "worst relative error \(worst) (\(worstCase)); sigmas \(sigmaExact)/\(sigmaCount) exact, "
              + "worst \(sigmaWorstULP) ulp; worst Karras timestep difference \(timestepWorst)")
    }

    private func sigmasOf(_ scheduler: any Scheduler) -> [Float]? {
        switch scheduler {
        case let s as EulerDiscreteScheduler: s.sigmas
        case let s as EulerAncestralScheduler: s.sigmas
        case let s as DPMSolverMultistepScheduler: s.sigmas
        default: nil
        }
    }

    /// `alphas_cumprod` for every beta schedule, bit for bit (torch's fused linspace, double-accumulated
    /// cumprod, the cosine schedule and zero-terminal-SNR rescaling).
    func testAlphasCumprodBitExact() throws {
        let fixtures = try SchedulerFixtures.shared.get()
        XCTAssertEqual(fixtures.alphasCumprodConfigs.count, 4)
        for (name, config) in fixtures.alphasCumprodConfigs.sorted(by: { $0.key < $1.key }) {
            let ddim = try DDIMScheduler(config: config, steps: 10)
            let reference = try fixtures.tensor("alphas_cumprod.\(name)")
            let mismatches = zip(ddim.alphasCumprod, reference.data).filter { $0.bitPattern != $1.bitPattern }.count
            let worstULP = zip(ddim.alphasCumprod, reference.data).map { Self.ulpDistance($0, $1) }.max() ?? 0
            print("alphas_cumprod.\(name): \(mismatches) of \(reference.count) differ, worst \(worstULP) ulp")
            if name == "zsnr" {
                // Zero-terminal-SNR rescaling takes torch's (MKL) sqrt of alphas_cumprod.
                XCTAssertLessThanOrEqual(worstULP, Self.zeroSNRULPTolerance, "alphas_cumprod.\(name)")
            } else {
                XCTAssertEqual(mismatches, 0, "alphas_cumprod.\(name): \(mismatches) of \(reference.count) differ")
            }
        }
    }
}
