import Foundation
import HiDiffCore
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Every scheduler, built from every family's config at every step count a request may ask for (1...1000,
/// sampled densely near the ends), either runs its whole schedule with finite latents or is refused when it is
/// built (`SchedulerError.invalidSteps`, naming the step count): no step count gives a NaN image.
final class ScheduleFinitenessTests: XCTestCase {
    static let stepCounts = Array(1...12) + [20, 25, 30, 50, 100, 250, 333, 498, 499, 500, 501, 502, 997, 998, 999, 1000]

    func testEveryStepCountRunsFiniteOrIsRefusedUpFront() throws {
        var ran = 0
        var refused: [String] = []
        for family in ["sd15-tiny", "sd21-tiny", "sdxl-tiny", "sdxl-turbo-tiny"] {
            let config = try SchedulerConfig(
                contentsOf: try FixtureFiles.url("models/\(family)/scheduler/scheduler_config.json").path)
            for kind in SchedulerKind.allCases {
                for karras in kind.supportsKarras ? [false, true] : [false] {
                    for steps in Self.stepCounts {
                        let what = "\(family) \(kind.rawValue)\(karras ? " karras" : "") \(steps) steps"
                        var scheduler: any Scheduler
                        do {
                            scheduler = try kind.makeScheduler(config: config, steps: steps, karras: karras)
                        } catch let error as SchedulerError {
                            guard case .invalidSteps(_, steps, let reason) = error, !reason.isEmpty else {
                                XCTFail("\(what): refused with \(error)")
                                continue
                            }
                            refused.append(what)
                            continue
                        }
                        try run(&scheduler, what: what)
                        ran += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(ran, 500)
        // DPM-Solver++ over a "leading" 1000-step training schedule repeats a noise level at 999 steps (a
        // division by zero); PNDM over a "trailing" one reaches timestep -1 at 499 steps (an index out of range).
        XCTAssertTrue(refused.contains("sdxl-tiny dpm++2m 999 steps"), "\(refused)")
        XCTAssertTrue(refused.contains("sdxl-turbo-tiny pndm 499 steps"), "\(refused)")
        XCTAssertLessThan(refused.count, 20, "\(refused)")
    }

    /// Runs the whole schedule on a small latent with a model output that keeps pointing back at the
    /// latent (as a denoiser's noise estimate does), asserting finite values after every step.
    private func run(_ scheduler: inout any Scheduler, what: String) throws {
        var rng = SplitMix(seed: 7)
        var latents = rng.tensor([1, 4, 2, 2]) * scheduler.initNoiseSigma
        var generator: TorchGenerator? = TorchGenerator(seed: 1)
        for i in scheduler.timesteps.indices {
            let input = scheduler.scaleModelInput(latents, timestepIndex: i)
            let eps = input * 0.5
            latents = scheduler.step(modelOutput: eps, timestepIndex: i, sample: latents, generator: &generator)
            guard latents.isFinite else {
                return XCTFail("\(what): latents not finite after step \(i + 1) of \(scheduler.timesteps.count)")
            }
        }
    }
}
