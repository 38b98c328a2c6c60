import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// The tiny SDXL and SDXL-Turbo pipelines against diffusers' StableDiffusionXLPipeline
/// (`tools/reference/make_sdxl_fixtures.py`): what the U-Net is conditioned on (both encoders, pooled
/// `text_embeds`, add_time_ids, negative-prompt rules), and whole generations for fixed seeds.
final class SDXLPipelineTests: XCTestCase {
    let tolerance: Float = 1e-4
    let pixelTolerance: Float = 2

    static func pipeline(_ model: String) throws -> StableDiffusionPipeline {
        try StableDiffusionPipeline(path: Fixtures.path("models/\(model)"))
    }

    func testFamiliesAreDetected() throws {
        let base = try Self.pipeline("sdxl-tiny")
        XCTAssertEqual(base.family, .sdxl)
        XCTAssertNotNil(base.textEncoder2)
        XCTAssertTrue(base.forceZerosForEmptyPrompt)
        XCTAssertEqual(try base.schedulerConfig.defaultKind(), .euler)
        let turbo = try Self.pipeline("sdxl-turbo-tiny")
        XCTAssertEqual(turbo.family, .sdxlTurbo)
        XCTAssertEqual(try turbo.schedulerConfig.defaultKind(), .eulerAncestral)
        XCTAssertEqual(turbo.schedulerConfig.timestepSpacing, "trailing")
        XCTAssertEqual(try Self.pipeline("sd15-tiny").family, .sd)
    }

    func testConditioningMatchesDiffusers() throws { try assertConditioning("sdxl-tiny", count: 6) }
    func testTurboConditioningMatchesDiffusers() throws { try assertConditioning("sdxl-turbo-tiny", count: 1) }

    func testBaseRunsMatchDiffusers() throws { try replayRuns("sdxl-tiny", count: 7) }
    func testTurboRunsMatchDiffusers() throws { try replayRuns("sdxl-turbo-tiny", count: 3) }

    private func assertConditioning(_ model: String, count: Int) throws {
        let pipeline = try Self.pipeline(model)
        let cases = try XCTUnwrap(Fixtures.json("\(model)/cases.json") as? [String: Any])
        let entries = try XCTUnwrap(cases["conditioning"] as? [[String: Any]])
        XCTAssertEqual(entries.count, count)
        let ref = try SafeTensorsFile(path: Fixtures.path("\(model)/conditioning.safetensors"))
        for c in entries {
            let name = c["name"] as! String
            let request = GenerationRequest(
                prompt: c["prompt"] as! String, negativePrompt: c["negative_prompt"] as! String,
                guidanceScale: c["guidance"] as! Double, prompt2: c["prompt_2"] as? String,
                negativePrompt2: c["negative_prompt_2"] as? String)
            let guided = request.guidanceScale > 1
            let cond = try pipeline.conditioning(for: request, width: c["width"] as! Int, height: c["height"] as! Int,
                                                 guided: guided)
            XCTAssertEqual(cond.context.dim(0), c["batch"] as? Int, name)
            let added = try XCTUnwrap(cond.added, name)
            for (what, ours) in [("context", cond.context), ("text_embeds", added.textEmbeds), ("time_ids", added.timeIds)] {
                let expected = try ref.load("\(name).\(what)")
                XCTAssertEqual(ours.shape, expected.shape, "\(name).\(what)")
                guard ours.shape == expected.shape else { continue }
                let err = relativeError(ours, expected)
                XCTAssertLessThanOrEqual(err, tolerance, "\(model) \(name).\(what): relative error \(err)")
            }
        }
    }

    private func replayRuns(_ model: String, count: Int) throws {
        let cases = try XCTUnwrap(Fixtures.json("\(model)/cases.json") as? [String: Any])
        let runs = try XCTUnwrap(cases["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, count)
        let refs = try SafeTensorsFile(path: Fixtures.path("\(model)/runs.safetensors"))
        let pipeline = try Self.pipeline(model)
        for run in runs {
            let name = run["name"] as! String
            let useDefault = run["default_scheduler"] as! Bool
            var request = GenerationRequest(
                prompt: run["prompt"] as! String, negativePrompt: run["negative_prompt"] as! String,
                width: run["width"] as? Int, height: run["height"] as? Int, steps: run["steps"] as! Int,
                guidanceScale: run["guidance"] as! Double, seed: UInt64(run["seed"] as! Int),
                scheduler: useDefault ? nil : try XCTUnwrap(SchedulerKind(rawValue: run["scheduler"] as! String)),
                prompt2: run["prompt_2"] as? String, negativePrompt2: run["negative_prompt_2"] as? String)
            request.hidiffusion = .off  // the oracle is plain diffusers, also above the native 64 px
            let latents = try pipeline.denoise(request)
            let refLatents = try refs.load("\(name).latents")
            XCTAssertEqual(latents.shape, refLatents.shape, name)
            guard latents.shape == refLatents.shape else { continue }
            let err = relativeError(latents, refLatents)
            XCTAssertLessThanOrEqual(err, tolerance, "\(model) \(name): latent relative error \(err)")

            let image = try pipeline.decode(latents)
            let refImage = try refs.load("\(name).image")
            let ours = Tensor(shape: [image.height, image.width, 3], data: image.pixels.map(Float.init))
            XCTAssertEqual(ours.shape, refImage.shape, name)
            if ours.shape == refImage.shape {
                let px = ours.maxAbsDifference(refImage)
                XCTAssertLessThanOrEqual(px, pixelTolerance, "\(model) \(name): max pixel difference \(px)")
            }
        }
    }
}
