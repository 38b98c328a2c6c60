import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// The tiny SD 1.5 model, loaded once: `first` runs the interrupted half, `second` (a separate instance, as
/// another worker process would have) the resumed half.
enum TinySD15 {
    static let first = Result { try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny")) }
    static let second = Result { try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny")) }
    static let initImage = Result { try PNGReader.read(Fixtures.path("sd15-tiny/init.png")) }

    /// A small, fast request: 64 px (the model's native size), guided.
    static func request(_ kind: SchedulerKind, karras: Bool = false, steps: Int = 5, size: Int = 64,
                        seed: UInt64 = 11) -> GenerationRequest {
        var r = GenerationRequest(prompt: "a red cube on a table", negativePrompt: "blurry", width: size, height: size,
                                  steps: steps, guidanceScale: 7.5, seed: seed, scheduler: kind, karras: karras)
        r.hidiffusion = .off
        return r
    }
}

/// The bit patterns of a tensor's elements (`==` on floats would let -0 equal +0).
func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

extension XCTestCase {
    /// Runs `request` until `shouldStop` has seen `k` steps done and returns the serialized checkpoint the
    /// stop produced (checking the `stopped(atStep: k)` error and what the checkpoint says).
    func stopAfter(_ k: Int, _ request: GenerationRequest, initImage: RGBImage? = nil,
                   pipeline: StableDiffusionPipeline, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        var done = -1
        var blob: [UInt8]?
        let control = DenoiseControl(onCheckpoint: { blob = $0.serialized() }, shouldStop: { done >= k },
                                     progress: { d, _ in done = d })
        XCTAssertThrowsError(try pipeline.denoise(request, initImage: initImage, control: control),
                             file: file, line: line) { error in
            XCTAssertEqual(error as? PipelineError, .stopped(atStep: k), file: file, line: line)
        }
        let bytes = try XCTUnwrap(blob, "no checkpoint handed over on stop", file: file, line: line)
        let checkpoint = try DenoiseCheckpoint(serialized: bytes)
        XCTAssertEqual(checkpoint.completedSteps, k, file: file, line: line)
        XCTAssertEqual(checkpoint.latentShape, [1, 4, (request.height ?? 64) / 8, (request.width ?? 64) / 8],
                       file: file, line: line)
        return bytes
    }

    /// The uninterrupted run and the run stopped after `k` steps then resumed from the deserialized
    /// checkpoint on the second pipeline instance: the final latents must be identical bit for bit.
    @discardableResult
    func assertResumesExactly(_ request: GenerationRequest, initImage: RGBImage? = nil, stopAfter ks: [Int],
                              _ label: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        let first = try TinySD15.first.get(), second = try TinySD15.second.get()
        let full = try first.denoise(request, initImage: initImage)
        for k in ks {
            let blob = try stopAfter(k, request, initImage: initImage, pipeline: first, file: file, line: line)
            let checkpoint = try DenoiseCheckpoint(serialized: blob)
            let resumed = try second.denoise(request, initImage: initImage, control: DenoiseControl(resumeFrom: checkpoint))
            XCTAssertEqual(bits(resumed), bits(full), "\(label): resumed after \(k) steps differs", file: file, line: line)
        }
        return full
    }
}
