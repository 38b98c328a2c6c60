import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// A checkpoint blob is validated on load and against the request it resumes: garbage, truncation, damage,
/// another format or version, another job's checkpoint and impossible scheduler or generator states all
/// give a typed `DenoiseCheckpointError`, never a crash or a silently different result.
final class DenoiseCheckpointValidationTests: XCTestCase {
    /// A DPM-Solver++ checkpoint with history (2 of 5 steps done), serialized.
    static let blob = Result { () throws -> [UInt8] in
        var blob: [UInt8] = []
        var done = 0
        let control = DenoiseControl(onCheckpoint: { blob = $0.serialized() }, shouldStop: { done >= 2 },
                                     progress: { d, _ in done = d })
        _ = try? TinySD15.first.get().denoise(TinySD15.request(.dpmSolverMultistep), initImage: nil, control: control)
        guard !blob.isEmpty else { throw FixtureError("no checkpoint produced") }
        return blob
    }

    private func error(_ bytes: [UInt8]) -> DenoiseCheckpointError? {
        do {
            _ = try DenoiseCheckpoint(serialized: bytes)
            return nil
        } catch {
            return error as? DenoiseCheckpointError
        }
    }

    private func resumeError(_ checkpoint: DenoiseCheckpoint, _ request: GenerationRequest,
                             initImage: RGBImage? = nil) throws -> Error? {
        do {
            _ = try TinySD15.second.get().denoise(request, initImage: initImage,
                                                  control: DenoiseControl(resumeFrom: checkpoint))
            return nil
        } catch {
            return error
        }
    }

    func testRoundTripKeepsEverything() throws {
        let checkpoint = try DenoiseCheckpoint(serialized: try Self.blob.get())
        XCTAssertEqual(checkpoint.schedulerKind, .dpmSolverMultistep)
        XCTAssertEqual(checkpoint.steps, 5)
        XCTAssertEqual(checkpoint.seed, 11)
        XCTAssertEqual(checkpoint.scheduler.integers["lower_order_nums"], 2)
        XCTAssertEqual(checkpoint.scheduler.tensors.count, 2)
        XCTAssertEqual(checkpoint.kernels, OpenBLASCoreType.corename)
        XCTAssertEqual(try DenoiseCheckpoint(serialized: checkpoint.serialized()), checkpoint)
        XCTAssertEqual(checkpoint.serialized(), try Self.blob.get(), "serialization is deterministic")
    }

    func testGarbageIsUnreadable() throws {
        var rng = MersenneTwister(seed: 3)
        let garbage = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let png = try PNGWriter.encode(RGBImage(width: 2, height: 2, red: 9))
        for (name, bytes) in [("empty", []), ("short", [1, 2, 3]), ("random", garbage), ("png", png)] {
            guard case .unreadable = error(bytes) else { return XCTFail("\(name): \(String(describing: error(bytes)))") }
        }
    }

    func testEveryTruncationIsRefused() throws {
        let blob = try Self.blob.get()
        var lengths = Array(stride(from: 0, to: blob.count, by: 97)) + Array((blob.count - 16)..<blob.count)
        lengths.append(8)
        for n in lengths {
            XCTAssertNotNil(error(Array(blob.prefix(n))), "truncated to \(n) of \(blob.count) bytes was accepted")
        }
        guard case .unreadable(let reason) = error(Array(blob.dropLast())) else { return XCTFail("dropLast") }
        XCTAssertTrue(reason.contains("truncated") || reason.contains("needs"), reason)
    }

    func testDamageAnywhereIsDetected() throws {
        let blob = try Self.blob.get()
        print("checkpoint blob: \(blob.count) bytes; flipping each in turn")
        for position in blob.indices {
            var damaged = blob
            damaged[position] ^= 0x01
            XCTAssertNotNil(error(damaged), "a flipped bit at byte \(position) of \(blob.count) went unnoticed")
        }
        var dataFlip = blob
        dataFlip[blob.count - 3] ^= 0x40
        guard case .corrupt(let reason) = error(dataFlip) else { return XCTFail("data flip") }
        XCTAssertTrue(reason.contains("checksum"), reason)
    }

    func testOtherFormatsAndVersionsAreRefused() throws {
        let latents = Tensor(zeros: [1, 4, 8, 8])
        guard case .unsupportedFormat = error(try SafeTensorsWriter.serialize([("latents", latents)])) else {
            return XCTFail("plain safetensors")
        }
        let file = try SafeTensorsFile(bytes: try Self.blob.get())
        var metadata = file.metadata
        metadata["version"] = "2"
        let tensors = try file.names.map { ($0, try file.load($0)) }
        guard case .unsupportedFormat(let reason) = error(try SafeTensorsWriter.serialize(tensors, metadata: metadata)) else {
            return XCTFail("version 2")
        }
        XCTAssertTrue(reason.contains("version 2"), reason)
        metadata["version"] = "1"
        metadata["steps"] = "6"  // an edited field no longer matches the checksum
        guard case .corrupt = error(try SafeTensorsWriter.serialize(tensors, metadata: metadata)) else {
            return XCTFail("edited field")
        }
    }

    func testAnotherJobsCheckpointIsRefusedBeforeComputing() throws {
        let checkpoint = try DenoiseCheckpoint(serialized: try Self.blob.get())
        let base = TinySD15.request(.dpmSolverMultistep)
        var cases: [(String, GenerationRequest, RGBImage?)] = []
        var r = base; r.seed = 12; cases.append(("seed", r, nil))
        r = base; r.steps = 6; cases.append(("steps", r, nil))
        r = base; r.scheduler = .euler; cases.append(("scheduler", r, nil))
        r = base; r.karras = true; cases.append(("karras", r, nil))
        r = base; r.width = 128; cases.append(("latent shape", r, nil))
        r = base; r.width = nil; r.height = nil; r.strength = 0.6
        cases.append(("start index (img2img strength)", r, try TinySD15.initImage.get()))
        for (field, request, image) in cases {
            let e = try resumeError(checkpoint, request, initImage: image)
            guard case .mismatch(let f, _, _)? = e as? DenoiseCheckpointError else {
                XCTFail("\(field): \(String(describing: e))")
                continue
            }
            XCTAssertEqual(f, field)
        }
    }

    func testImpossibleSchedulerAndGeneratorStatesAreRefused() throws {
        let checkpoint = try DenoiseCheckpoint(serialized: try Self.blob.get())
        let request = TinySD15.request(.dpmSolverMultistep)
        var noHistory = checkpoint
        noHistory.scheduler.integers["lower_order_nums"] = 0  // says no history, holds two predictions
        var noGenerator = checkpoint
        noGenerator.generator = nil
        var badGenerator = checkpoint
        badGenerator.generator?.wordIndex = 700
        for (name, c) in [("history", noHistory), ("no generator", noGenerator)] {
            // Through the blob, as a worker receives it: it reads back, the pipeline refuses it.
            let decoded = try DenoiseCheckpoint(serialized: c.serialized())
            guard case .corrupt? = try resumeError(decoded, request) as? DenoiseCheckpointError else {
                return XCTFail(name)
            }
        }
        guard case .corrupt(let reason)? = error(badGenerator.serialized()) else { return XCTFail("generator") }
        XCTAssertTrue(reason.contains("word index"), reason)

        var wrongShape = checkpoint
        wrongShape.scheduler.tensors["model_outputs.1"] = Tensor(zeros: [1, 4, 8, 9])
        guard case .corrupt? = error(wrongShape.serialized()) else { return XCTFail("history shape") }
    }

    func testNegativeCheckpointIntervalIsAnInvalidRequest() throws {
        XCTAssertThrowsError(try TinySD15.first.get().denoise(TinySD15.request(.ddim), initImage: nil,
                                                              control: DenoiseControl(checkpointEvery: -1))) {
            guard case .invalidRequest(let field, _)? = $0 as? PipelineError else { return XCTFail("\($0)") }
            XCTAssertEqual(field, "checkpointEvery")
        }
    }
}
