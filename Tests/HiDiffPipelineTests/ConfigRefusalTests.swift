import Foundation
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Opening a pipeline folder whose configs hold values that would trap, abort or give black images throws
/// an error naming the config file and field, before any weights are used.
final class ConfigRefusalTests: XCTestCase {
    private var root: String!

    override func setUpWithError() throws {
        let fixture = Fixtures.path("models/sd15-tiny")
        guard FileManager.default.fileExists(atPath: fixture + "/model_index.json") else {
            throw FixtureError("sd15-tiny model fixture not present")
        }
        root = NSTemporaryDirectory() + "hidiff-config-refusal-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: fixture, toPath: root)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Sets `field` of `<root>/<relative>` to the JSON text `value`.
    private func edit(_ relative: String, _ field: String, _ value: String) throws {
        let path = root + "/" + relative
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                    as? [String: Any])
        json[field] = "__VALUE__"
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: .sortedKeys), as: UTF8.self)
            .replacingOccurrences(of: "\"__VALUE__\"", with: value)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func testUNetZeroGroupsIsRefusedWithTheFileNamed() throws {
        try edit("unet/config.json", "norm_num_groups", "0")
        XCTAssertThrowsError(try StableDiffusionPipeline(path: root)) {
            guard case let .outOfRange(file, "norm_num_groups", "0", _)? = $0 as? ModelConfigError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(file.hasSuffix("unet/config.json"), file)
        }
    }

    func testVAEZeroScalingFactorIsRefusedWithTheFileNamed() throws {
        try edit("vae/config.json", "scaling_factor", "0")
        XCTAssertThrowsError(try StableDiffusionPipeline(path: root)) {
            guard case let .outOfRange(file, "scaling_factor", _, _)? = $0 as? ModelConfigError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(file.hasSuffix("vae/config.json"), file)
        }
    }

    func testHugeTrainTimestepsIsRefusedWithTheFileNamed() throws {
        try edit("scheduler/scheduler_config.json", "num_train_timesteps", "1e12")
        XCTAssertThrowsError(try StableDiffusionPipeline(path: root)) {
            guard case let .outOfRange(file, "num_train_timesteps", _, _)? = $0 as? SchedulerError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(file.hasSuffix("scheduler/scheduler_config.json"), file)
        }
    }
}
