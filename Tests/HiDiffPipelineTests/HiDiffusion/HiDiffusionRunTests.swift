import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Whole generations with HiDiffusion against diffusers + the authors' hidiffusion 0.1.10
/// (`tools/reference/hidiffusion_ref.py --only runs`): SD 1.5 at 2x and 4x, img2img (truncated N), SDXL's
/// aggressive three-phase schedule and Turbo, replaying the window shifts the authors' code drew.
final class HiDiffusionRunTests: XCTestCase {
    let latentTolerance: Float = 1e-4

    func testWholeRunsMatchTheAuthorsCode() throws {
        let cases = try XCTUnwrap(Fixtures.json("hidiffusion/cases.json") as? [String: Any])
        let runs = try XCTUnwrap(cases["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 5)
        let refs = try SafeTensorsFile(path: Fixtures.path("hidiffusion/runs.safetensors"))
        for run in runs {
            let name = run["name"] as! String
            let pipeline = try StableDiffusionPipeline(path: Fixtures.path(run["model"] as! String))
            let settingsJSON = try JSONSerialization.data(withJSONObject: run["hidiffusion_settings"]!)
            var request = GenerationRequest(
                prompt: run["prompt"] as! String, negativePrompt: run["negative_prompt"] as? String ?? "",
                width: run["init_image"] is String ? nil : run["width"] as? Int,
                height: run["init_image"] is String ? nil : run["height"] as? Int,
                steps: run["steps"] as! Int, guidanceScale: run["guidance"] as! Double,
                seed: UInt64(run["seed"] as! Int),
                scheduler: (run["scheduler"] as! String) == "default" ? nil : SchedulerKind(rawValue: run["scheduler"] as! String),
                initImage: (run["init_image"] as? String).map { Fixtures.path("hidiffusion/\($0)") },
                strength: run["strength"] as? Double ?? 0.8)
            request.hidiffusion = .on
            request.hidiffusionSettings = try JSONDecoder().decode(HiDiffusionSettings.self, from: settingsJSON)
            request.family = ModelFamily(rawValue: run["family"] as! String)
            let shifts = run["shifts"] as! [[Int]]
            let initImage = try request.initImage.map { try PNGReader.read($0) }
            let latents = try pipeline.denoise(request, initImage: initImage,
                                               windowShifts: .explicit { k, ordinal in shifts[k][ordinal] })
            let err = relativeError(latents, try refs.load("\(name).latents"))
            XCTAssertLessThanOrEqual(err, latentTolerance, "\(name): latent relative error \(err)")
        }
    }

    /// The same run with seeded shifts differs from the recorded one (so the replay above is what matches)
    /// and is reproducible.
    func testSeededShiftsAreReproducible() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        var request = GenerationRequest(prompt: "a photo of a cat", width: 128, height: 128, steps: 3, seed: 4,
                                        scheduler: .ddim)
        request.hidiffusion = .on
        let a = try pipeline.denoise(request), b = try pipeline.denoise(request)
        XCTAssertEqual(a, b)
        request.hidiffusionSettings.windowShift = .fixed(0)
        XCTAssertGreaterThan(try pipeline.denoise(request).maxAbsDifference(a), 1e-3)
    }
}
