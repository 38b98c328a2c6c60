import Foundation
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Scheduler configs with values that used to abort (a 1e12-entry beta table) or yield NaN schedules are
/// refused with the file and field named; random mutations load or throw, never trap.
final class SchedulerConfigValueTests: XCTestCase {
    private var path: String!

    override func setUpWithError() throws {
        let fixture = try FixtureFiles.url("models/sd15-tiny/scheduler/scheduler_config.json").path
        guard FileManager.default.fileExists(atPath: fixture) else {
            throw HiDiffTestSupport.FixtureError("sd15-tiny model fixture not present")
        }
        path = NSTemporaryDirectory() + "hidiff-scheduler-\(UUID().uuidString).json"
        try FileManager.default.copyItem(atPath: fixture, toPath: path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Sets `field` to the JSON text `value` in the copied config and asserts that reading it throws
    /// `SchedulerError.outOfRange` naming the file and `field`.
    private func assertRefused(_ field: String, _ value: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                    as? [String: Any])
        json[field] = "__VALUE__"
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: .sortedKeys), as: UTF8.self)
            .replacingOccurrences(of: "\"__VALUE__\"", with: value)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SchedulerConfig(contentsOf: path), "\(field) = \(value)", file: file, line: line) {
            guard case let .outOfRange(errorFile, errorField, _, _)? = $0 as? SchedulerError else {
                return XCTFail("expected SchedulerError.outOfRange, got \($0)", file: file, line: line)
            }
            XCTAssertEqual(errorFile, path, file: file, line: line)
            XCTAssertEqual(errorField, field, file: file, line: line)
            XCTAssertTrue("\($0)".contains(field), "\($0)", file: file, line: line)
        }
    }

    func testFixtureConfigLoads() throws {
        XCTAssertNoThrow(try SchedulerConfig(contentsOf: path))
    }

    func testHugeTrainTimesteps() throws { try assertRefused("num_train_timesteps", "1e12") }
    func testZeroTrainTimesteps() throws { try assertRefused("num_train_timesteps", "0") }
    func testTrainTimestepsOverLimit() throws { try assertRefused("num_train_timesteps", "100001") }
    func testZeroBetaStart() throws { try assertRefused("beta_start", "0") }
    func testNaNBetaStart() throws { try assertRefused("beta_start", "NaN") }
    func testBetaEndOfOne() throws { try assertRefused("beta_end", "1") }
    func testInfiniteBetaEnd() throws { try assertRefused("beta_end", "Infinity") }
    func testBetaStartAboveBetaEnd() throws { try assertRefused("beta_start", "0.5") }
    func testNegativeStepsOffset() throws { try assertRefused("steps_offset", "-1") }
    func testStepsOffsetBeyondTraining() throws { try assertRefused("steps_offset", "1000") }
    func testTrainedBetasOutOfRange() throws { try assertRefused("trained_betas", "[0.5, 2]") }

    func testInMemoryConfigIsCheckedToo() {
        XCTAssertThrowsError(try SchedulerConfig(jsonData: Data(#"{"num_train_timesteps": 1e12}"#.utf8))) {
            guard case .outOfRange(_, "num_train_timesteps", _, _)? = $0 as? SchedulerError else {
                return XCTFail("\($0)")
            }
        }
    }

    func testEmptyConfigStillBuildsEveryScheduler() throws {
        for kind in SchedulerKind.allCases {
            XCTAssertNoThrow(try kind.makeScheduler(config: SchedulerConfig(), steps: 10), "\(kind)")
        }
    }

    /// 2,000 seeded mutations: each config loads or throws; the ones that load build every scheduler or throw.
    func testMutatedConfigsLoadOrThrow() throws {
        let original = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                        as? [String: Any])
        var mutator = JSONMutator(seed: 0x5C4E_D01E, values: [
            "0", "-1", "1e12", "-1e12", "NaN", "Infinity", "\"NaN\"", "null", "true", "[]", "1e-45", "0.5", "2", "999",
            "[0.1]", "\"trailing\"", "\"linspace\"", "\"squaredcos_cap_v2\""])
        var loaded = 0, refused = 0
        for i in 0..<2_000 {
            let text = mutator.mutate(original)
            do {
                let config = try SchedulerConfig(jsonData: text)
                loaded += 1
                // Building the schedulers is the costly part; every 10th loaded config is enough.
                if i % 10 == 0 {
                    for kind in SchedulerKind.allCases { _ = try? kind.makeScheduler(config: config, steps: 8) }
                }
            } catch {
                XCTAssertFalse("\(error)".isEmpty)
                refused += 1
            }
        }
        XCTAssertGreaterThan(loaded, 0)
        XCTAssertGreaterThan(refused, 0)
    }
}
