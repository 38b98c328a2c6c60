import HiDiffEval
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

/// The benchmark end to end on the tiny SD 1.5 test model (random weights: checks the plumbing and the row
/// fields, not duplication).
final class DuplicationSmokeTests: XCTestCase {
    func testBenchmarkOnTinyModel() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        XCTAssertEqual(pipeline.nativeSize, 64)
        let generator = PipelineGenerator(pipeline: pipeline, steps: 2)
        XCTAssertEqual(generator.scheduler, .ddim)
        XCTAssertEqual(generator.guidanceScale, 6)
        let bench = DuplicationBenchmark(sizes: [128], seedBase: 3, seedCount: 2)
        let cases = try bench.run(with: generator)
        XCTAssertEqual(cases.map(\.row.mode), [.direct, .hidiffusion])
        for c in cases {
            XCTAssertEqual(c.row.size, 128)
            XCTAssertEqual(c.row.images, 2)
            XCTAssertTrue((0...1).contains(c.row.dupRate))
            XCTAssertGreaterThanOrEqual(c.row.meanObjects, 0)
            XCTAssertGreaterThan(c.row.secondsPerImage, 0)
            XCTAssertEqual(c.samples.map(\.seed), [3, 4])
            XCTAssertEqual(c.samples.map(\.prompt), ["a red circle", "a green circle"])
            for s in c.samples {
                XCTAssertEqual(s.image.width, 128)
                XCTAssertEqual(s.image.height, 128)
                XCTAssertEqual(s.objects, ObjectCounter().count(image: s.image, colour: ObjectCounter.promptColour(s.prompt)!))
            }
        }
        // The modes really differ: same seed and prompt, HiDiffusion changes the image.
        XCTAssertNotEqual(cases[0].samples[0].image, cases[1].samples[0].image)
        // And direct mode is the plain pipeline with HiDiffusion off.
        let request = generator.request(prompt: "a red circle", size: 128, seed: 3, mode: .direct)
        XCTAssertEqual(request.hidiffusion, .off)
        XCTAssertEqual(generator.request(prompt: "a red circle", size: 128, seed: 3, mode: .hidiffusion).hidiffusion, .on)
        XCTAssertEqual(try pipeline.decode(pipeline.denoise(request)), cases[0].samples[0].image)
    }
}
