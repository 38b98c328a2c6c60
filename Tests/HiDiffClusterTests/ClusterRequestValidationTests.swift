import Foundation
import HiDiffStore
import XCTest

/// Requests reach workers from the database, not only through `hidiff submit`: one the command line would
/// refuse, or one too large for the worker's memory, fails at once with the field or the estimate named,
/// is not retried, and the same worker goes on to render the next job.
final class ClusterRequestValidationTests: XCTestCase {
    var cluster: LocalCluster!

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    func testBadRequestsStoredDirectlyFailClearlyAndTheWorkerKeepsServing() throws {
        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")],
                                extra: ["--memory", "400000000"])
        try cluster.waitForWorkers(1)
        func request(_ fields: String) -> String {
            #"{"prompt": "a red circle", "negative_prompt": "", "steps": 2, "guidance_scale": 6, "seed": 1, "karras": false, "strength": 0.8"#
                + fields + "}"
        }
        // Each would have crashed or hung a worker that trusted it; group size 1 keeps the coordinator's
        // memory sizing out of the way, so the worker's own check is what answers the last one.
        let bad: [(json: String, message: String)] = [
            (request(#", "width": 4294967296, "height": 4294967296"#), "invalid width: must be a positive multiple of 8 up to 16384"),
            (request(#", "width": 64, "height": 64, "steps": 5000"#).replacingOccurrences(of: #""steps": 2, "#, with: ""),
             "invalid steps: must be from 1 to 1000 (got 5000)"),
            (request(#", "width": 64, "height": 64, "guidance_scale": 1e300"#).replacingOccurrences(of: #""guidance_scale": 6, "#, with: ""),
             "invalid guidance_scale"),
            (request(#", "width": 64, "height": 64, "hidiffusion_settings": {"t1Ratio": -3}"#), "invalid hidiffusion_settings.t1Ratio"),
            (request(#", "width": 4096, "height": 4096"#), "this worker's --memory"),
        ]
        let store = try cluster.store()
        let ids = try store.submit(bad.map { NewJob(model: "shapes", requestJSON: $0.json, steps: 2, groupSize: 1) }, batch: nil)
        let good = try store.submit([NewJob(model: "shapes", requestJSON: request(#", "width": 64, "height": 64"#), steps: 2)],
                                    batch: nil)
        let records = try cluster.waitForJobs(ids + good, timeout: 180)
        for (record, expected) in zip(records, bad) {
            XCTAssertEqual(record.state, .failed, expected.json)
            XCTAssertEqual(record.attempt, 1, "not retried: \(expected.json)")
            XCTAssertTrue(record.error?.contains(expected.message) == true, "\(expected.message): \(record.error ?? "nil")")
        }
        XCTAssertEqual(records.last?.state, .succeeded, records.last?.error ?? "")
        XCTAssertEqual(records.last?.workers, ["worker-1"], "the same worker, still running")
    }
}
