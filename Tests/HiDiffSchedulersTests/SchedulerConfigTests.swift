import Foundation
import HiDiffCore
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Decoding diffusers' scheduler_config.json and rejecting what hidiff does not implement.
final class SchedulerConfigTests: XCTestCase {
    func testDecodesStableDiffusion15Config() throws {
        let url = try FixtureFiles.url("models/sd15-tiny/scheduler/scheduler_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw HiDiffTestSupport.FixtureError("sd15-tiny model fixture not present")
        }
        let config = try SchedulerConfig(contentsOf: url.path)
        XCTAssertEqual(try config.defaultKind(), .pndm)
        XCTAssertEqual(config.betaSchedule, "scaled_linear")
        XCTAssertEqual(config.betaStart, 0.00085)
        XCTAssertEqual(config.stepsOffset, 1)
        XCTAssertEqual(config.skipPrkSteps, true)
        XCTAssertNil(config.trainedBetas)
        XCTAssertNil(config.timestepSpacing)
        // SD 1.5 + PNDM, 50 steps: the familiar 981, 961, 961, 941, ... 1 (leading spacing, offset 1).
        let scheduler = try config.defaultKind().makeScheduler(config: config, steps: 50)
        XCTAssertEqual(Array(scheduler.timesteps.prefix(4)), [981, 961, 961, 941])
        XCTAssertEqual(scheduler.timesteps.last, 1)
        XCTAssertEqual(scheduler.timesteps.count, 51)
    }

    func testAcceptsPythonInfinity() throws {
        let json = #"{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "#
            + #""variance_type": null}"#
        let config = try SchedulerConfig(jsonData: Data(json.utf8))
        XCTAssertEqual(config.lambdaMinClipped, -.infinity)
        XCTAssertEqual(try config.defaultKind(), .dpmSolverMultistep)
        XCTAssertNoThrow(try SchedulerKind.dpmSolverMultistep.makeScheduler(config: config, steps: 20))
    }

    func testCommandLineNames() {
        XCTAssertEqual(SchedulerKind.allCases.map(\.rawValue), ["pndm", "ddim", "euler", "euler-a", "dpm++2m"])
        XCTAssertEqual(SchedulerKind(className: "EulerAncestralDiscreteScheduler"), .eulerAncestral)
        XCTAssertNil(SchedulerKind(className: "LMSDiscreteScheduler"))
    }

    func testRejectsWhatIsNotImplemented() throws {
        var config = SchedulerConfig()
        config.className = "LMSDiscreteScheduler"
        XCTAssertThrowsError(try config.defaultKind()) { error in
            XCTAssertEqual(error as? SchedulerError, .unknownClass("LMSDiscreteScheduler"))
            XCTAssertTrue("\(error)".contains("LMSDiscreteScheduler"))
        }
        XCTAssertThrowsError(try SchedulerKind.eulerAncestral.makeScheduler(config: SchedulerConfig(), steps: 10,
                                                                            karras: true))
        XCTAssertThrowsError(try SchedulerKind.pndm.makeScheduler(config: SchedulerConfig(), steps: 0))

        var thresholding = SchedulerConfig()
        thresholding.thresholding = true
        XCTAssertThrowsError(try SchedulerKind.ddim.makeScheduler(config: thresholding, steps: 10)) { error in
            XCTAssertEqual(error as? SchedulerError,
                           .unsupported(scheduler: "DDIMScheduler", field: "thresholding", value: "true"))
        }
        var sde = SchedulerConfig()
        sde.algorithmType = "sde-dpmsolver++"
        XCTAssertThrowsError(try SchedulerKind.dpmSolverMultistep.makeScheduler(config: sde, steps: 10))
        var spacing = SchedulerConfig()
        spacing.timestepSpacing = "uniform"
        XCTAssertThrowsError(try SchedulerKind.euler.makeScheduler(config: spacing, steps: 10))
        var prediction = SchedulerConfig()
        prediction.predictionType = "sample"
        XCTAssertThrowsError(try SchedulerKind.pndm.makeScheduler(config: prediction, steps: 10))
        var prk = SchedulerConfig()
        prk.skipPrkSteps = false
        XCTAssertThrowsError(try SchedulerKind.pndm.makeScheduler(config: prk, steps: 3))
    }

    /// img2img truncation follows diffusers' `get_timesteps`: int(steps * strength) steps are run.
    func testImg2ImgStartIndex() throws {
        let scheduler = try SchedulerKind.euler.makeScheduler(config: SchedulerConfig(), steps: 10)
        XCTAssertEqual(scheduler.img2imgStartIndex(strength: 1.0), 0)
        XCTAssertEqual(scheduler.img2imgStartIndex(strength: 0.75), 3)
        XCTAssertEqual(scheduler.img2imgStartIndex(strength: 0.05), 10)
    }
}
