import Foundation
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// PostgreSQL restarts in the middle of a job (its own server, so no other test is disturbed).
final class ClusterDatabaseRestartTests: XCTestCase {
    var cluster: LocalCluster!
    var pgDir = ""
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ops/pg-throwaway").path

    /// Runs `ops/pg-throwaway command dir` through system(3): the server it starts outlives the script, and
    /// Foundation's Process would wait for the daemon's inherited descriptors to close.
    func pg(_ command: String) throws {
        let status = system("'\(script)' \(command) '\(pgDir)' >'\(pgDir).log' 2>&1 </dev/null")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: pgDir + ".log", encoding: .utf8)) ?? ""
            throw TestDatabaseError(message: "ops/pg-throwaway \(command) failed (\(status)): \(log)")
        }
    }

    override func setUpWithError() throws {
        pgDir = NSTemporaryDirectory() + "hidiff-pg-restart-\(UUID().uuidString.prefix(8))"
        try pg("start")
        let admin = try String(contentsOfFile: pgDir + "/url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        cluster = try LocalCluster(database: TestDatabase(adminURL: admin))
    }

    override func tearDown() {
        cluster?.stop()
        try? pg("stop")
        try? FileManager.default.removeItem(atPath: pgDir)
        try? FileManager.default.removeItem(atPath: pgDir + ".log")
    }

    func testJobFinishesWithTheSameImageAcrossADatabaseRestart() throws {
        try cluster.startCoordinator("coordinator-1", lease: 20)
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let r = try cluster.cli(["submit", "-p", "a green triangle", "--seed", "9", "-W", "128", "-H", "128",
                                 "--steps", "40", "--scheduler", "pndm", "--cfg-scale", "6"])
        XCTAssertEqual(r.status, 0, r.err)
        let id = try XCTUnwrap(Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        let store = try cluster.store()
        try waitUntil("job \(id) past step 4", timeout: 120) { try store.jobs(ids: [id]).first?.step ?? 0 >= 4 }
        try pg("restart")
        let record = try XCTUnwrap(cluster.waitForJobs([id], timeout: 300).first)
        XCTAssertEqual(record.state, .succeeded, record.error ?? "")
        let result = try XCTUnwrap(try cluster.store().result(jobID: id))
        XCTAssertEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: record.requestJSON), 0)
        XCTAssertTrue(cluster.processes["coordinator-1"]!.isRunning, "the coordinator rode out the restart")
    }
}
