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

    func testOverflowingGuidanceStopsAtTheStepItBreaks() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        // Finite as a Float, but guidance times the text/empty difference overflows.
        let request = GenerationRequest(prompt: "a cat", width: 64, height: 64, steps: 3, guidanceScale: 3e38, seed: 1,
                                        scheduler: .ddim)
        var steps: [Int] = []
        var control = DenoiseControl()
        control.progress = { done, _ in steps.append(done) }
        var failedAt: Int?
        XCTAssertThrowsError(try pipeline.denoise(request, initImage: nil, control: control)) { error in
            guard case let .nonFinite(what, step?, _)? = error as? PipelineError else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "the latents")
            XCTAssertTrue("\(error)".contains("after step \(step)"), "\(error)")
            failedAt = step
        }
        let step = try XCTUnwrap(failedAt)
        XCTAssertTrue((1...3).contains(step))
        XCTAssertEqual(steps, Array(0..<step), "the broken step was not reported as done")
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
