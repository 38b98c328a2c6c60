import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Whole generations against diffusers' StableDiffusionPipeline / Img2ImgPipeline on the tiny models
/// (`tools/reference/make_fixtures.py`): same checkpoint, prompt, seed and scheduler give the same latent and
/// the same image.
final class PipelineParityTests: XCTestCase {
    /// Final latents: max abs error relative to the reference's max abs value.
    let latentTolerance: Float = 1e-4
    /// Final images: max pixel difference out of 255.
    let pixelTolerance: Float = 2

    func testSD15RunsMatchDiffusers() throws { try replayRuns("sd15-tiny") }
    func testSD21RunsMatchDiffusers() throws { try replayRuns("sd21-tiny") }

    private func replayRuns(_ model: String) throws {
        let cases = try XCTUnwrap(Fixtures.json("\(model)/cases.json") as? [String: Any])
        let runs = try XCTUnwrap(cases["runs"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(runs.count, 8, "\(model): expected every scheduler and img2img to be covered")
        let refs = try SafeTensorsFile(path: Fixtures.path("\(model)/runs.safetensors"))
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/\(model)"))
        for run in runs {
            let name = run["name"] as! String
            var schedulerName = run["scheduler"] as! String
            let karras = schedulerName.hasSuffix("-karras")
            if karras { schedulerName = String(schedulerName.dropLast("-karras".count)) }
            let initPath = (run["init_image"] as? String).map { Fixtures.path("\(model)/\($0)") }
            var request = GenerationRequest(
                prompt: run["prompt"] as! String, negativePrompt: run["negative_prompt"] as! String,
                width: initPath == nil ? run["width"] as? Int : nil, height: initPath == nil ? run["height"] as? Int : nil,
                steps: run["steps"] as! Int, guidanceScale: run["guidance"] as! Double,
                seed: UInt64(run["seed"] as! Int), scheduler: try XCTUnwrap(SchedulerKind(rawValue: schedulerName)),
                karras: karras, initImage: initPath, strength: run["strength"] as? Double ?? 0.8)
            // diffusers without hidiffusion: the 96x64 runs exceed the tiny model's native 64 px, where
            // `--hidiffusion auto` would switch it on.
            request.hidiffusion = .off
            let initImage = try initPath.map { try PNGReader.read($0) }
            let latents = try pipeline.denoise(request, initImage: initImage)
            let refLatents = try refs.load("\(name).latents")
            let err = relativeError(latents, refLatents)
            XCTAssertLessThanOrEqual(err, latentTolerance, "\(model) \(name): latent relative error \(err)")

            let image = try pipeline.decode(latents)
            let refImage = try refs.load("\(name).image")
            let ours = Tensor(shape: [image.height, image.width, 3], data: image.pixels.map(Float.init))
            XCTAssertEqual(ours.shape, refImage.shape, "\(model) \(name)")
            if ours.shape == refImage.shape {
                let px = ours.maxAbsDifference(refImage)
                XCTAssertLessThanOrEqual(px, pixelTolerance, "\(model) \(name): max pixel difference \(px)")
            }
        }
    }

    func testImg2ImgRejectsASizeOtherThanTheInitImage() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        let image = try PNGReader.read(Fixtures.path("sd15-tiny/init.png"))
        let request = GenerationRequest(prompt: "x", width: image.width * 2, steps: 2, initImage: "init.png")
        XCTAssertThrowsError(try pipeline.denoise(request, initImage: image)) { error in
            XCTAssertTrue("\(error)".contains("width"), "\(error)")
        }
    }

    func testRejectsSizesThatAreNotMultiplesOfTheVAEFactor() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        XCTAssertThrowsError(try pipeline.denoise(GenerationRequest(prompt: "x", width: 60, height: 64, steps: 1))) {
            XCTAssertEqual($0 as? PipelineError, .invalidRequest(field: "width", reason: "must be a positive multiple of 8 up to 16384 (got 60)"))
        }
    }
}
