import Foundation
import HiDiffStore
import XCTest

/// A job survives the loss of any machine and ends in the same image as an uninterrupted run.
final class ClusterFaultTests: XCTestCase {
    var cluster: LocalCluster!

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    /// One long job at twice the demo model's size (HiDiffusion on) with an ancestral sampler, whose noise
    /// stream must resume exactly.
    func submitLongJob(steps: Int = 40) throws -> Int64 {
        let r = try cluster.cli(["submit", "-p", "a blue triangle", "--seed", "11", "-W", "128", "-H", "128",
                                 "--steps", "\(steps)", "--scheduler", "euler-a", "--cfg-scale", "6", "--max-attempts", "5"])
        XCTAssertEqual(r.status, 0, r.err)
        return try XCTUnwrap(Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Waits until the job runs at `step` or later; returns its record.
    func waitForStep(_ id: Int64, _ step: Int, timeout: Double = 120) throws -> JobRecord {
        let store = try cluster.store()
        var record: JobRecord?
        try waitUntil("job \(id) at step \(step)", timeout: timeout) {
            record = try store.jobs(ids: [id]).first
            return record?.state == .running && (record?.step ?? 0) >= step
        }
        return record!
    }

    func assertSameImageAsGenerate(_ id: Int64, minimumAttempt: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let record = try XCTUnwrap(cluster.waitForJobs([id], timeout: 300).first)
        XCTAssertEqual(record.state, .succeeded, "\(record.error ?? "")", file: file, line: line)
        XCTAssertGreaterThanOrEqual(record.attempt, minimumAttempt, "the job was resumed", file: file, line: line)
        let result = try XCTUnwrap(try cluster.store().result(jobID: id))
        XCTAssertEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: record.requestJSON), 0,
                       "resumed job equals an uninterrupted generate", file: file, line: line)
    }

    /// The job's checkpoint step when it was resumed (from the `claimed` event of the last attempt).
    func checkpointed(_ id: Int64) throws -> Bool {
        try cluster.store().events(jobID: id).contains { $0.kind == "checkpointed" }
    }

    func testWorkerKilledMidJobResumesElsewhereWithTheSameImage() throws {
        let c = try cluster.startCoordinator("coordinator-1")
        _ = c
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.startWorker("worker-2", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(2)
        let id = try submitLongJob()
        let running = try waitForStep(id, 6)
        let victim = try XCTUnwrap(running.workers.first)
        cluster.signal(victim, SIGKILL)
        XCTAssertTrue(try checkpointed(id))
        try assertSameImageAsGenerate(id, minimumAttempt: 2)
        let record = try XCTUnwrap(try cluster.store().jobs(ids: [id]).first)
        XCTAssertNotEqual(record.workers, [victim], "another worker finished it")
    }

    func testCoordinatorKilledMidJobIsRescuedByAnother() throws {
        try cluster.startCoordinator("coordinator-1", lease: 4)
        try cluster.startCoordinator("coordinator-2", lease: 4)
        let order = [cluster.endpoint("coordinator-1"), cluster.endpoint("coordinator-2")]
        try cluster.startWorker("worker-1", coordinators: order)
        try cluster.startWorker("worker-2", coordinators: order)
        try cluster.waitForWorkers(2)
        let id = try submitLongJob()
        _ = try waitForStep(id, 6)
        cluster.signal("coordinator-1", SIGKILL)
        try assertSameImageAsGenerate(id, minimumAttempt: 2)
        let events = try cluster.store().events(jobID: id)
        XCTAssertTrue(events.contains { $0.kind == "rescued" } || events.contains { $0.kind == "released" },
                      "the job came back to the queue: \(events.map(\.kind))")
    }

    func testWorkerSIGTERMCheckpointsAndAnotherWorkerFinishes() throws {
        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let id = try submitLongJob()
        _ = try waitForStep(id, 5)
        cluster.signal("worker-1", SIGTERM)
        let process = try XCTUnwrap(cluster.processes["worker-1"])
        try waitUntil("worker-1 exits after draining", timeout: 60) { !process.isRunning }
        XCTAssertEqual(process.terminationStatus, 0, cluster.log("worker-1"))
        let store = try cluster.store()
        let back = try XCTUnwrap(try store.jobs(ids: [id]).first)
        XCTAssertEqual(back.state, .queued, "a drained job goes back to the queue")
        XCTAssertEqual(back.error, nil, "draining is not a failure")
        try cluster.startWorker("worker-2", coordinators: [cluster.endpoint("coordinator-1")])
        try assertSameImageAsGenerate(id, minimumAttempt: 2)
    }

    func testCoordinatorSIGTERMGivesItsJobsBackAtOnce() throws {
        // Leases far longer than the test may wait: only a release, not a rescue, lets the job finish in time.
        try cluster.startCoordinator("coordinator-1", lease: 600)
        try cluster.startCoordinator("coordinator-2", lease: 600)
        let order = [cluster.endpoint("coordinator-1"), cluster.endpoint("coordinator-2")]
        try cluster.startWorker("worker-1", coordinators: order)
        try cluster.waitForWorkers(1)
        let id = try submitLongJob()
        _ = try waitForStep(id, 6)
        cluster.signal("coordinator-1", SIGTERM)
        let record = try XCTUnwrap(cluster.waitForJobs([id], timeout: 120).first)
        XCTAssertEqual(record.state, .succeeded, record.error ?? "")
        let events = try cluster.store().events(jobID: id).map(\.kind)
        XCTAssertTrue(events.contains("released"), "\(events)")
        XCTAssertFalse(events.contains("rescued"), "\(events)")
        let result = try XCTUnwrap(try cluster.store().result(jobID: id))
        XCTAssertEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: record.requestJSON), 0)
    }
}
