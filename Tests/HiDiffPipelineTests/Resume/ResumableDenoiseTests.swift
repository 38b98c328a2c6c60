import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Stopping a generation, serializing its checkpoint and resuming it in a fresh call on another pipeline
/// instance ends in the uninterrupted run's latent, bit for bit: every scheduler (with Karras where it
/// applies), txt2img and img2img, with and without HiDiffusion, from the first and the last step.
final class ResumableDenoiseTests: XCTestCase {
    func testEverySchedulerResumesBitForBit() throws {
        for kind in SchedulerKind.allCases {
            for karras in kind.supportsKarras ? [false, true] : [false] {
                let label = "\(kind.rawValue)\(karras ? "-karras" : "")"
                // 1: PNDM's warm-up sample and DPM-Solver's first prediction are pending; 3: full history.
                try assertResumesExactly(TinySD15.request(kind, karras: karras), stopAfter: [1, 3], label)
            }
        }
    }

    func testResumedImageIsIdentical() throws {
        let first = try TinySD15.first.get(), second = try TinySD15.second.get()
        let request = TinySD15.request(.eulerAncestral, steps: 4)
        let full = try assertResumesExactly(request, stopAfter: [], "euler-a")
        let checkpoint = try DenoiseCheckpoint(serialized: try stopAfter(2, request, pipeline: first))
        let resumed = try second.denoise(request, initImage: nil, control: DenoiseControl(resumeFrom: checkpoint))
        XCTAssertEqual(try second.decode(resumed), try first.decode(full))
    }

    func testImg2ImgResumesBitForBit() throws {
        let image = try TinySD15.initImage.get()
        for kind in [SchedulerKind.pndm, .eulerAncestral, .dpmSolverMultistep] {
            var request = TinySD15.request(kind, steps: 6)
            request.width = nil
            request.height = nil
            request.strength = 0.6  // starts at index 3: 3 steps
            let blob = try stopAfter(1, request, initImage: image, pipeline: try TinySD15.first.get())
            let checkpoint = try DenoiseCheckpoint(serialized: blob)
            XCTAssertEqual(checkpoint.startIndex, 3, kind.rawValue)
            XCTAssertEqual(checkpoint.nextIndex, 4, kind.rawValue)
            XCTAssertEqual(checkpoint.totalSteps, kind == .pndm ? 4 : 3, kind.rawValue)  // PNDM: steps + 1 timesteps
            try assertResumesExactly(request, initImage: image, stopAfter: [0, 1, 2], "img2img \(kind.rawValue)")
        }
    }

    func testHiDiffusionResumesBitForBit() throws {
        let pipeline = try TinySD15.first.get()
        for kind in [SchedulerKind.ddim, .eulerAncestral, .dpmSolverMultistep] {
            var request = TinySD15.request(kind, steps: 4, size: 128)  // 2x the native size
            request.hidiffusion = .on
            XCTAssertNotNil(try pipeline.hidiffusion(for: request, width: 128, height: 128))
            let full = try assertResumesExactly(request, stopAfter: [1, 2], "hidiffusion \(kind.rawValue)")
            request.hidiffusion = .off
            XCTAssertGreaterThan(try pipeline.denoise(request).maxAbsDifference(full), 1e-4,
                                 "\(kind.rawValue): HiDiffusion should change the result")
        }
    }

    func testCheckpointBeforeTheFirstStep() throws {
        for kind in [SchedulerKind.pndm, .eulerAncestral] {
            let request = TinySD15.request(kind, steps: 3)
            let checkpoint = try DenoiseCheckpoint(serialized: try stopAfter(0, request, pipeline: try TinySD15.first.get()))
            XCTAssertEqual(checkpoint.nextIndex, 0)
            XCTAssertFalse(checkpoint.isComplete)
            XCTAssertNotNil(checkpoint.generator)
            try assertResumesExactly(request, stopAfter: [0], "step 0 \(kind.rawValue)")
        }
    }

    func testCheckpointAtTheLastStepResumesWithoutComputing() throws {
        let first = try TinySD15.first.get(), second = try TinySD15.second.get()
        let request = TinySD15.request(.dpmSolverMultistep, steps: 3)
        var checkpoints: [DenoiseCheckpoint] = []
        let full = try first.denoise(request, initImage: nil,
                                     control: DenoiseControl(checkpointEvery: 3, onCheckpoint: { checkpoints.append($0) }))
        XCTAssertEqual(checkpoints.map(\.completedSteps), [3])
        let last = try DenoiseCheckpoint(serialized: try XCTUnwrap(checkpoints.first).serialized())
        XCTAssertTrue(last.isComplete)
        var reported: [[Int]] = []
        let resumed = try second.denoise(request, initImage: nil,
                                         control: DenoiseControl(resumeFrom: last, shouldStop: { true },
                                                                 progress: { reported.append([$0, $1]) }))
        XCTAssertEqual(bits(resumed), bits(full))
        XCTAssertEqual(reported, [[3, 3]], "a complete checkpoint runs no step")
    }

    func testCheckpointEveryFiresAtTheSameStepsInResumedRuns() throws {
        let first = try TinySD15.first.get(), second = try TinySD15.second.get()
        let request = TinySD15.request(.pndm, steps: 5)
        var checkpoints: [DenoiseCheckpoint] = []
        let full = try first.denoise(request, initImage: nil,
                                     control: DenoiseControl(checkpointEvery: 2, onCheckpoint: { checkpoints.append($0) }))
        XCTAssertEqual(bits(full), bits(try first.denoise(request)), "checkpointing must not change the run")
        XCTAssertEqual(checkpoints.map(\.completedSteps), [2, 4, 6])
        XCTAssertEqual(checkpoints.map(\.nextIndex), [2, 4, 6])
        XCTAssertEqual(checkpoints.map(\.totalSteps), [6, 6, 6], "PNDM runs steps + 1 U-Net calls")

        // Resumed from the one at 2, the run checkpoints at 4 (and 6 = the end) exactly as the first run did.
        var later: [DenoiseCheckpoint] = []
        let resumed = try second.denoise(request, initImage: nil, control: DenoiseControl(
            resumeFrom: try DenoiseCheckpoint(serialized: checkpoints[0].serialized()), checkpointEvery: 2,
            onCheckpoint: { later.append($0) }))
        XCTAssertEqual(later.map(\.completedSteps), [4, 6])
        XCTAssertEqual(later, Array(checkpoints.suffix(2)), "the checkpoints at steps 4 and 6 must be identical")
        XCTAssertEqual(bits(resumed), bits(full))
        XCTAssertEqual(bits(later[1].latents), bits(full))

        // img2img counts from its start index.
        var request2 = request
        request2.width = nil
        request2.height = nil
        request2.strength = 0.5
        var img2img: [DenoiseCheckpoint] = []
        _ = try first.denoise(request2, initImage: try TinySD15.initImage.get(),
                              control: DenoiseControl(checkpointEvery: 1, onCheckpoint: { img2img.append($0) }))
        let start = try XCTUnwrap(img2img.first).startIndex
        XCTAssertGreaterThan(start, 0)
        XCTAssertEqual(img2img.map(\.completedSteps), Array(1...img2img.count))
        XCTAssertEqual(img2img.map(\.nextIndex), Array((start + 1)...(start + img2img.count)))
    }

    func testProgressOfAResumedRunStartsAtTheCheckpoint() throws {
        let request = TinySD15.request(.euler, steps: 4)
        let checkpoint = try DenoiseCheckpoint(serialized: try stopAfter(3, request, pipeline: try TinySD15.first.get()))
        var reported: [[Int]] = []
        _ = try TinySD15.second.get().denoise(request, initImage: nil, control: DenoiseControl(
            resumeFrom: checkpoint, progress: { reported.append([$0, $1]) }))
        XCTAssertEqual(reported, [[3, 4], [4, 4]])
    }

    func testOnCheckpointErrorsEndTheRun() throws {
        struct UploadFailed: Error {}
        let control = DenoiseControl(checkpointEvery: 1, onCheckpoint: { _ in throw UploadFailed() })
        XCTAssertThrowsError(try TinySD15.first.get().denoise(TinySD15.request(.ddim, steps: 2), initImage: nil,
                                                              control: control)) {
            XCTAssertTrue($0 is UploadFailed, "\($0)")
        }
    }
}
