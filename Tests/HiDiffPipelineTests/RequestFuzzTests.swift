import Foundation
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// The request decoder as a worker runs it on bytes from the network: random mutations of a valid stored
/// request decode or throw; what decodes is refused by `problem()` or stays within `GenerationLimits`, and
/// the engine's first steps on it (size, memory estimate, schedule) answer or throw, never trap.
final class RequestFuzzTests: XCTestCase {
    static let iterations = 3_000

    func testMutatedRequestsDecodeValidateOrThrow() throws {
        let pipeline = try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"))
        var request = GenerationRequest(prompt: "a red circle", negativePrompt: "blurry", width: 128, height: 96,
                                        steps: 12, guidanceScale: 6, seed: 42, scheduler: .dpmSolverMultistep,
                                        karras: true, strength: 0.7, prompt2: "a", negativePrompt2: "b")
        request.hidiffusion = .on
        request.hidiffusionSettings.t1Ratio = 0.4
        request.hidiffusionSettings.t2Ratio = 0.1
        XCTAssertNil(request.problem(), "the starting request is valid")
        let original = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any])
        var mutator = JSONMutator(seed: 0x0E0_0E57)
        var undecodable = 0, refused = 0, accepted = 0
        for _ in 0..<Self.iterations {
            let data = mutator.mutate(original)
            let decoded: GenerationRequest
            do {
                decoded = try GenerationRequest(json: data)
            } catch {
                XCTAssertTrue("\(error)".hasPrefix("invalid "), "\(error)")
                XCTAssertFalse("\(error)".contains("Domain"), "\(error)")
                undecodable += 1
                continue
            }
            if let (field, reason) = decoded.problem() {
                XCTAssertFalse(reason.isEmpty, field.rawValue)
                XCTAssertThrowsError(try pipeline.estimatedPeakBytes(decoded, initImage: nil), "validated there too")
                refused += 1
                continue
            }
            accepted += 1
            let limits = GenerationLimits.self
            for side in [decoded.width, decoded.height].compactMap({ $0 }) {
                XCTAssertTrue(side > 0 && side <= limits.maxSide && side % limits.sideMultiple == 0, "\(side)")
            }
            XCTAssertTrue(limits.steps.contains(decoded.steps))
            XCTAssertTrue(Float(decoded.guidanceScale).isFinite)
            if let bytes = try? pipeline.estimatedPeakBytes(decoded, initImage: nil, parts: 2) {
                XCTAssertGreaterThan(bytes, 0)
            }
            let kind = decoded.scheduler ?? .pndm
            if let scheduler = try? kind.makeScheduler(config: pipeline.schedulerConfig, steps: decoded.steps,
                                                       karras: decoded.karras && kind.supportsKarras) {
                XCTAssertFalse(scheduler.timesteps.isEmpty)
            }
        }
        XCTAssertGreaterThan(undecodable, 0)
        XCTAssertGreaterThan(refused, 0)
        XCTAssertGreaterThan(accepted, 0)
    }

    /// A number too large for its field is reported as such (the JSON decoder calls it invalid JSON).
    func testOutOfRangeIntegersAreNamed() {
        XCTAssertThrowsError(try GenerationRequest(json: Data(#"{"prompt": "x", "seed": 99999999999999999999999}"#.utf8))) {
            XCTAssertEqual("\($0)", "invalid seed: 99999999999999999999999 is out of range (0 to 18446744073709551615)")
        }
        XCTAssertThrowsError(try GenerationRequest(json: Data(#"{"prompt": "x", "seed": -1}"#.utf8))) {
            XCTAssertTrue("\($0)".hasPrefix("invalid seed: -1 is out of range"), "\($0)")
        }
        XCTAssertThrowsError(try GenerationRequest(json: Data(#"{"prompt": "x", "seed": 1, "width": 1e30}"#.utf8))) {
            XCTAssertTrue("\($0)".hasPrefix("invalid width: "), "\($0)")
        }
        XCTAssertThrowsError(try GenerationRequest(json: Data(#"{"prompt": "x", "seed": 1, "steps": [}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("malformed JSON"), "\($0)")
        }
    }

    /// The shared rules name each field the way its caller's user wrote it.
    func testProblemsNameTheFieldAndTheLimit() {
        func problem(_ edit: (inout GenerationRequest) -> Void) -> String? {
            var r = GenerationRequest(prompt: "x")
            edit(&r)
            return r.problem().map { "\($0.field.option) \($0.reason)" }
        }
        XCTAssertEqual(problem { $0.width = 4_294_967_296 }, "--width must be a positive multiple of 8 up to 16384 (got 4294967296)")
        XCTAssertEqual(problem { $0.height = -64 }, "--height must be a positive multiple of 8 up to 16384 (got -64)")
        XCTAssertEqual(problem { $0.steps = 0 }, "--steps must be from 1 to 1000 (got 0)")
        XCTAssertEqual(problem { $0.guidanceScale = 1e300 }, "--cfg-scale must be a finite number from -1000 to 1000 (got 1e+300)")
        XCTAssertEqual(problem { $0.guidanceScale = .nan }, "--cfg-scale must be a finite number from -1000 to 1000 (got nan)")
        XCTAssertEqual(problem { $0.strength = 0 }, "--strength must be in (0, 1] (got 0.0)")
        XCTAssertEqual(problem { $0.hidiffusionSettings.t1Ratio = 2 }, "--t1-ratio must be in 0...1 (got 2.0)")
        XCTAssertEqual(problem { $0.hidiffusionSettings.windowShift = .fixed(7) }, "--msw-shift must be seeded or 0...3 (got 7)")
        XCTAssertEqual(problem { $0.prompt = String(repeating: "a", count: 70_000) },
                       "--prompt must be at most 65536 bytes (got 70000)")
        XCTAssertNil(problem { $0.width = 16384; $0.height = 8 })
        var bad = GenerationRequest(prompt: "x")
        bad.steps = 5000
        XCTAssertThrowsError(try bad.validate()) {
            XCTAssertEqual("\($0)", "invalid steps: must be from 1 to 1000 (got 5000)")
        }
    }
}
