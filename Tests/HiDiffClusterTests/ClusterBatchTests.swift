import Foundation
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// Many jobs through two coordinators and three workers: each runs exactly once and equals `hidiff generate`.
final class ClusterBatchTests: XCTestCase {
    var cluster: LocalCluster!

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    func testTwoHundredJobsFromEightSubmittersRunExactlyOnceAndEqualGenerate() throws {
        try cluster.startCoordinator("coordinator-1")
        try cluster.startCoordinator("coordinator-2")
        let all = [cluster.endpoint("coordinator-1"), cluster.endpoint("coordinator-2")]
        try cluster.startWorker("worker-1", coordinators: all)
        try cluster.startWorker("worker-2", coordinators: all.reversed())
        try cluster.startWorker("worker-3", coordinators: all)
        try cluster.waitForWorkers(3)

        // 8 concurrent `hidiff submit` processes, 25 seeds each: 200 jobs. Every request is submitted four
        // times (2 captions x 25 seeds), so 50 runs of `hidiff generate` give every job's reference image.
        let captions = (0..<8).map { ["a red circle", "a blue square"][$0 % 2] }
        let cluster = self.cluster!
        let results = LockedBox([Int: (status: Int32, out: String)]())
        DispatchQueue.concurrentPerform(iterations: captions.count) { i in
            let r = try? cluster.cli(["submit", "-p", captions[i], "--seeds", "0-24", "-W", "64", "-H", "64",
                                      "--steps", "2", "--scheduler", "ddim", "--cfg-scale", "6", "--batch", "load", "--json"])
            results.withValue { $0[i] = (r?.status ?? -1, r?.out ?? "") }
        }
        let submitted = results.current
        let statuses = (0..<captions.count).map { submitted[$0]?.status ?? -1 }
        let outputs = (0..<captions.count).map { submitted[$0]?.out ?? "" }
        XCTAssertEqual(statuses, [Int32](repeating: 0, count: captions.count))
        var ids: [Int64] = []
        for out in outputs {
            let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            XCTAssertEqual(rows.count, 25)
            ids += rows.compactMap { ($0["id"] as? NSNumber)?.int64Value }
        }
        XCTAssertEqual(Set(ids).count, 200)

        let records = try cluster.waitForJobs(ids, timeout: 600)
        XCTAssertEqual(records.filter { $0.state == .succeeded }.count, 200, "every job succeeds")
        let store = try cluster.store()
        let references = ReferenceImages(cluster: cluster)
        var claimedTwice: [Int64] = []
        for record in records {
            // Exactly once: one claim, one success, and one attempt.
            let events = try store.events(jobID: record.id)
            if events.filter({ $0.kind == "claimed" }).count != 1 || record.attempt != 1 {
                claimedTwice.append(record.id)
                print("job \(record.id) attempt \(record.attempt): \(events.map { "\($0.kind) \($0.worker ?? "-") \($0.detail)" })")
            }
            XCTAssertEqual(events.filter { $0.kind == "succeeded" }.count, 1, "job \(record.id) succeeded once")
            let result = try XCTUnwrap(try store.result(jobID: record.id))
            XCTAssertEqual(try references.maxDifference(result, requestJSON: record.requestJSON), 0,
                           "job \(record.id) equals generate pixel for pixel")
        }
        XCTAssertEqual(claimedTwice, [], "no job ran twice")
        // Both coordinators and all three workers took part.
        let workers = Set(records.flatMap(\.workers))
        XCTAssertEqual(workers, ["worker-1", "worker-2", "worker-3"])
        let queue = try cluster.cli(["admin", "queue", "--json"])
        XCTAssertEqual(queue.status, 0, queue.err)
        XCTAssertTrue(queue.out.contains("\"succeeded\":200"), queue.out)
    }
}
