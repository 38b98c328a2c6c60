import HiDiffCore
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

/// A NaN or infinity stops the run with an error naming the step; no black image comes out.
final class NonFiniteTests: XCTestCase {
    func testFiniteCheckFindsEveryKindOfNonFiniteValue() {
        XCTAssertTrue(Tensor(shape: [2, 3], data: [0, -1, 1e38, -1e38, .leastNonzeroMagnitude, 5]).isFinite)
        for bad: Float in [.nan, .infinity, -.infinity] {
            for position in [0, 17, 99] {
                var data = [Float](repeating: 1, count: 100)
                data[position] = bad
                XCTAssertFalse(Tensor(shape: [100], data: data).isFinite, "\(bad) at \(position)")
            }
        }
    }

    /// Guidance that is finite as a Float but overflows once multiplied is refused before any step.
    func testOverflowingGuidanceIsRefusedBeforeAnyStep() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        let request = GenerationRequest(prompt: "a cat", width: 64, height: 64, steps: 3, guidanceScale: 3e38, seed: 1,
                                        scheduler: .ddim)
        var control = DenoiseControl()
        var reported: [Int] = []
        control.progress = { done, _ in reported.append(done) }
        XCTAssertThrowsError(try pipeline.denoise(request, initImage: nil, control: control)) {
            XCTAssertEqual($0 as? PipelineError, .invalidRequest(
                field: "guidance_scale", reason: "must be a finite number from -1000 to 1000 (got 3e+38)"))
        }
        XCTAssertEqual(reported, [], "no step ran")
    }

    /// A NaN that gets into the latents (here through a resumed checkpoint, as one could arrive over the
    /// network) stops the run after the step it spoils, naming it; that step is not reported as done.
    func testANonFiniteLatentStopsAtTheStepItBreaks() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        let request = GenerationRequest(prompt: "a cat", width: 64, height: 64, steps: 3, guidanceScale: 6, seed: 1,
                                        scheduler: .ddim)
        var first: DenoiseCheckpoint?
        var control = DenoiseControl()
        control.checkpointEvery = 1
        control.onCheckpoint = { if first == nil { first = $0 } }
        _ = try pipeline.denoise(request, initImage: nil, control: control)
        var spoiled = try XCTUnwrap(first)
        XCTAssertEqual(spoiled.completedSteps, 1)
        spoiled.latents.data[5] = .nan
        var resumed = DenoiseControl()
        resumed.resumeFrom = spoiled
        var reported: [Int] = []
        resumed.progress = { done, _ in reported.append(done) }
        XCTAssertThrowsError(try pipeline.denoise(request, initImage: nil, control: resumed)) { error in
            guard case let .nonFinite(what, step?, _)? = error as? PipelineError else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "the latents")
            XCTAssertEqual(step, 2)
            XCTAssertTrue("\(error)".contains("after step 2"), "\(error)")
        }
        XCTAssertEqual(reported, [1], "the broken step was not reported as done")
    }

    func testDecodeRefusesNonFiniteLatents() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        var latents = Tensor(zeros: [1, 4, 8, 8])
        latents.data[5] = .nan
        XCTAssertThrowsError(try pipeline.decode(latents)) { error in
            guard case .nonFinite(what: "the decoded image", step: nil, _)? = error as? PipelineError else { return XCTFail("\(error)") }
        }
    }
}
