import Foundation
import HiDiffImage
import HiDiffPipeline
import HiDiffProtocol
import HiDiffTestSupport
import HiDiffWorker
import XCTest

/// The worker's parts that need no coordinator: endpoints, the model catalogue and cache, a job's run.
final class WorkerPartsTests: XCTestCase {
    func testEndpointsParseAndRefuseWithAReason() throws {
        XCTAssertEqual(try WorkerConfiguration.Endpoint(parsing: "10.0.0.1:7420"), .init(host: "10.0.0.1", port: 7420))
        XCTAssertEqual(try WorkerConfiguration.Endpoint(parsing: "[::1]:9"), .init(host: "::1", port: 9))
        for bad in ["host", "host:0", "host:70000", ":80", "host:x"] {
            XCTAssertThrowsError(try WorkerConfiguration.Endpoint(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".contains(bad), "\(error)")
            }
        }
    }

    func testCatalogOffersTheDemoModelAndEachFolderByName() throws {
        let root = NSTemporaryDirectory() + "hidiff-models-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/tiny", withDestinationPath: Fixtures.path("models/sd15-tiny"))
        FileManager.default.createFile(atPath: root + "/notes.txt", contents: Data("not a model".utf8))
        let catalog = try ModelCatalog(directories: [root])
        XCTAssertEqual(catalog.infos.map(\.name), ["shapes", "tiny"])
        XCTAssertEqual(catalog.entries["shapes"]?.info.nativeSize, 64)
        XCTAssertGreaterThan(catalog.entries["shapes"]?.weightBytes ?? 0, 1_000_000)
        XCTAssertThrowsError(try ModelCatalog(directories: [root + "/missing"])) { error in
            XCTAssertTrue("\(error)".contains("is not a folder"), "\(error)")
        }
    }

    func testCacheRefusesUnknownModelsAndModelsOverTheMemoryLimit() throws {
        let catalog = try ModelCatalog(directories: [])
        XCTAssertThrowsError(try ModelCache(catalog: catalog, memoryLimit: 1 << 40).pipeline(named: "nope")) { error in
            XCTAssertEqual(error as? WorkerError, .unknownModel("nope", known: ["shapes"]))
        }
        XCTAssertThrowsError(try ModelCache(catalog: catalog, memoryLimit: 1000).pipeline(named: "shapes")) { error in
            guard case .overMemory(model: "shapes", _, limit: 1000)? = error as? WorkerError else { return XCTFail("\(error)") }
        }
    }

    /// A job reports every step, checkpoints on schedule, and ends in the image `generate` makes.
    func testRunnerReportsStepsCheckpointsAndTheResult() throws {
        let request = GenerationRequest(prompt: "a red circle", width: 64, height: 64, steps: 4, guidanceScale: 6, seed: 3,
                                        scheduler: .ddim)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let assignment = Assignment(jobID: 5, attempt: 2, model: "shapes", requestJSON: json, initImage: nil,
                                    checkpoint: nil, checkpointStep: nil, checkpointEvery: 2)
        let messages = LockedBox<[Message]>([])
        let cache = ModelCache(catalog: try ModelCatalog(directories: []), memoryLimit: 1 << 34)
        let final = JobRunner(assignment: assignment).run(models: cache) { message in messages.withValue { $0.append(message) } }
        let progress = messages.current.compactMap { m -> Int32? in if case let .progress(5, 2, step, 4) = m { step } else { nil } }
        XCTAssertEqual(progress, [0, 1, 2, 3, 4])
        let checkpoints = messages.current.compactMap { m -> Int32? in if case let .checkpoint(5, 2, step, _) = m { step } else { nil } }
        XCTAssertEqual(checkpoints, [2, 4])
        guard case let .result(5, 2, png, latents, _)? = final else { return XCTFail("\(String(describing: final))") }
        let pipeline = try cache.pipeline(named: "shapes")
        let expected = try pipeline.denoise(request)
        XCTAssertEqual(latents.tensor, expected, "the worker computes what generate computes")
        XCTAssertFalse(png.isEmpty)
    }

    /// With previews on, every `previewEvery`-th step and the last send a PNG of the latent (the demo model's
    /// own VAE: first three channels normalised) at latent size; with them off, none; the result is unchanged.
    func testRunnerSendsPreviewsOnSchedule() throws {
        let request = GenerationRequest(prompt: "a blue square", width: 64, height: 64, steps: 5, guidanceScale: 6, seed: 4,
                                        scheduler: .ddim)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let assignment = Assignment(jobID: 6, attempt: 1, model: "shapes", requestJSON: json, initImage: nil,
                                    checkpoint: nil, checkpointStep: nil, checkpointEvery: 0)
        let cache = ModelCache(catalog: try ModelCatalog(directories: []), memoryLimit: 1 << 34)
        let messages = LockedBox<[Message]>([])
        let final = JobRunner(assignment: assignment, previewEvery: 2).run(models: cache) { m in messages.withValue { $0.append(m) } }
        let previews = messages.current.compactMap { m -> (Int32, [UInt8])? in
            if case let .preview(6, 1, step, 5, png) = m { (step, png) } else { nil }
        }
        XCTAssertEqual(previews.map(\.0), [2, 4, 5])
        let pipeline = try cache.pipeline(named: "shapes")
        XCTAssertEqual(LatentPreview(pipeline: pipeline).projection, .normalizedChannels)
        let latentSize = 64 / pipeline.vaeScaleFactor
        for (_, png) in previews {
            let image = try PNGReader.read(bytes: png)
            XCTAssertEqual([image.width, image.height], [latentSize, latentSize])
            XCTAssertGreaterThan(Set(image.pixels).count, 8, "a preview of a real latent is not flat")
        }
        // The last preview is the final latent's.
        guard case let .result(6, 1, _, latents, _)? = final else { return XCTFail("\(String(describing: final))") }
        XCTAssertEqual(try PNGReader.read(bytes: previews.last!.1), LatentPreview(pipeline: pipeline).image(latents.tensor))

        let quiet = LockedBox<[Message]>([])
        _ = JobRunner(assignment: assignment).run(models: cache) { m in quiet.withValue { $0.append(m) } }
        XCTAssertFalse(quiet.current.contains { if case .preview = $0 { true } else { false } })
    }

    func testRunnerTurnsBadRequestsIntoNonRetryableFailures() throws {
        let cache = ModelCache(catalog: try ModelCatalog(directories: []), memoryLimit: 1 << 34)
        let garbage = Assignment(jobID: 1, attempt: 1, model: "shapes", requestJSON: "{\"prompt\": 3}", initImage: nil,
                                 checkpoint: nil, checkpointStep: nil, checkpointEvery: 0)
        guard case let .failed(1, 1, message, retryable)? = JobRunner(assignment: garbage).run(models: cache, emit: { _ in }) else {
            return XCTFail("garbage request was not refused")
        }
        XCTAssertFalse(retryable)
        XCTAssertTrue(message.contains("invalid request: field 'prompt' is not of type String"), message)
        let badCheckpoint = Assignment(jobID: 1, attempt: 1, model: "shapes",
                                       requestJSON: String(decoding: try JSONEncoder().encode(GenerationRequest(prompt: "a red circle", steps: 2)), as: UTF8.self),
                                       initImage: nil, checkpoint: [1, 2, 3], checkpointStep: 1, checkpointEvery: 0)
        guard case .failed(1, 1, _, _)? = JobRunner(assignment: badCheckpoint).run(models: cache, emit: { _ in }) else {
            return XCTFail("garbage checkpoint was not refused")
        }
    }

    func testStoppedRunnerSaysWhy() throws {
        let cache = ModelCache(catalog: try ModelCatalog(directories: []), memoryLimit: 1 << 34)
        let json = String(decoding: try JSONEncoder().encode(GenerationRequest(prompt: "a red circle", width: 64, height: 64, steps: 6)), as: UTF8.self)
        let runner = JobRunner(assignment: Assignment(jobID: 9, attempt: 1, model: "shapes", requestJSON: json, initImage: nil,
                                                      checkpoint: nil, checkpointStep: nil, checkpointEvery: 0))
        let messages = LockedBox<[Message]>([])
        let final = runner.run(models: cache) { message in
            messages.withValue { $0.append(message) }
            if case .progress(_, _, 2, _) = message { runner.stop(.shuttingDown) }
        }
        XCTAssertNil(final, "a shutdown is not a failure: the job goes back to the queue when the link closes")
        XCTAssertTrue(messages.current.contains { if case .checkpoint(9, 1, 2, _) = $0 { true } else { false } },
                      "a stop for shutdown checkpoints the step it stopped at")
        let cancelled = JobRunner(assignment: runner.assignment)
        let answer = cancelled.run(models: cache) { message in
            if case .progress(_, _, 1, _) = message { cancelled.stop(.cancelled) }
        }
        guard case let .failed(9, 1, text, false)? = answer else { return XCTFail("\(String(describing: answer))") }
        XCTAssertTrue(text.contains("cancelled"), text)
    }
}
