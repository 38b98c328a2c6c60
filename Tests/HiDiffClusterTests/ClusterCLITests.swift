import Foundation
import HiDiffImage
import HiDiffStore
import XCTest

/// The command line against a live cluster: submit validation, status, wait, result, cancel, admin.
final class ClusterCLITests: XCTestCase {
    var cluster: LocalCluster!

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    func id(_ r: (status: Int32, out: String, err: String)) throws -> Int64 {
        XCTAssertEqual(r.status, 0, r.err)
        return try XCTUnwrap(Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)), r.out)
    }

    func testBadSubmissionsInsertNothing() throws {
        let none = try cluster.cli(["submit", "-p", "a red circle", "--seed", "1"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.err.contains("no worker has registered"), none.err)

        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let cases: [([String], String)] = [
            (["-W", "100", "-H", "64"], "multiple of 8"),
            (["-W", "-64"], "--width must be a positive multiple of 8"),
            (["--model", "nope"], "no registered worker offers model nope"),
            (["--seeds", "5-1"], "runs backwards"),
            (["--seeds", "1,x"], "is not a seed"),
            (["--seeds", "0-99999"], "more than 10000"),
            (["--steps", "0"], "--steps"),
            (["--cfg-scale", "1e300"], "--cfg-scale"),
            (["--init-image", "/nonexistent.png"], "no such file"),
            (["--init-image", "/dev/null"], "not a regular file"),
            (["--max-attempts", "0"], "--max-attempts"),
        ]
        for (args, message) in cases {
            let r = try cluster.cli(["submit", "-p", "a red circle", "--batch", "bad"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args) was accepted")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
        }
        XCTAssertEqual(try cluster.store().jobs(state: nil, limit: 100).count, 0, "nothing was inserted")
    }

    func testStatusWaitResultAndGenerateAgree() throws {
        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let args = ["-p", "a yellow square", "--seed", "42", "-W", "64", "-H", "64", "--steps", "6", "--scheduler", "pndm"]
        let job = try id(try cluster.cli(["submit", "--batch", "b1"] + args))
        let wait = try cluster.cli(["wait", "\(job)", "--timeout", "120"])
        XCTAssertEqual(wait.status, 0, wait.err)

        let status = try cluster.cli(["status", "\(job)", "--json"])
        XCTAssertEqual(status.status, 0, status.err)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [[String: Any]])
        let row = try XCTUnwrap(rows.first)
        XCTAssertEqual(row["id"] as? Int64 ?? (row["id"] as? NSNumber)?.int64Value, job)
        XCTAssertEqual(row["batch"] as? String, "b1")
        XCTAssertEqual(row["state"] as? String, "succeeded")
        // The demo model's PNDM runs its Runge-Kutta warm-up: more U-Net calls than --steps; the job counts
        // the calls the worker ran.
        let steps = try XCTUnwrap((row["steps"] as? NSNumber)?.intValue)
        XCTAssertGreaterThan(steps, 6)
        XCTAssertEqual((row["step"] as? NSNumber)?.intValue, steps)
        XCTAssertEqual((row["attempt"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual(row["workers"] as? [String], ["worker-1"])
        XCTAssertTrue(row["error"] is NSNull)
        XCTAssertEqual(((row["request"] as? [String: Any])?["seed"] as? NSNumber)?.intValue, 42)

        let out = cluster.dir + "/cluster.png", latents = cluster.dir + "/cluster.safetensors"
        let result = try cluster.cli(["result", "\(job)", "-o", out, "--save-latents", latents])
        XCTAssertEqual(result.status, 0, result.err)
        let local = cluster.dir + "/local.png", localLatents = cluster.dir + "/local.safetensors"
        let generate = try cluster.cli(["generate"] + args + ["-o", local, "--save-latents", localLatents, "--quiet"])
        XCTAssertEqual(generate.status, 0, generate.err)
        XCTAssertEqual(try PNGReader.read(out).pixels, try PNGReader.read(local).pixels, "cluster image == generate, pixel for pixel")
        XCTAssertEqual(FileManager.default.contents(atPath: latents), FileManager.default.contents(atPath: localLatents),
                       "cluster latents == generate's --save-latents")

        let batch = try cluster.cli(["result", "--batch", "b1", "--out-dir", cluster.dir + "/b1"])
        XCTAssertEqual(batch.status, 0, batch.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cluster.dir + "/b1/job-\(job).png"))

        let text = try cluster.cli(["status", "--batch", "b1"])
        XCTAssertTrue(text.out.contains("succeeded") && text.out.contains("\(steps)/\(steps)") && text.out.contains("worker-1"), text.out)
        let workers = try cluster.cli(["admin", "workers"])
        XCTAssertTrue(workers.out.contains("worker-1") && workers.out.contains("shapes"), workers.out)
        let jobs = try cluster.cli(["admin", "jobs", "--state", "succeeded"])
        XCTAssertTrue(jobs.out.contains("\(job)"), jobs.out)
        let queue = try cluster.cli(["admin", "queue"])
        XCTAssertTrue(queue.out.contains("succeeded") && queue.out.contains("oldest queued"), queue.out)
    }

    func testCancelQueuedAndRunningJobsThenRetry() throws {
        // One worker: the long job runs, the short one waits in the queue behind it.
        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let long = try id(try cluster.cli(["submit", "-p", "a red circle", "--seed", "1", "-W", "128", "-H", "128", "--steps", "400"]))
        let queued = try id(try cluster.cli(["submit", "-p", "a red circle", "--seed", "2", "-W", "64", "-H", "64", "--steps", "3"]))
        let store = try cluster.store()
        try waitUntil("job \(long) running", timeout: 60) { try store.jobs(ids: [long]).first?.step ?? 0 >= 2 }
        let cancel = try cluster.cli(["cancel", "\(queued)", "\(long)"])
        XCTAssertEqual(cancel.status, 0, cancel.err)
        XCTAssertEqual(try store.jobs(ids: [queued]).first?.state, .cancelled, "a queued job is cancelled at once")
        let records = try cluster.waitForJobs([long], timeout: 30)
        XCTAssertEqual(records.first?.state, .cancelled)
        XCTAssertLessThan(records.first?.step ?? 400, 400, "the running job stopped early")
        let wait = try cluster.cli(["wait", "\(queued)", "\(long)"])
        XCTAssertEqual(wait.status, 1, "wait fails when a job did not succeed")

        let retry = try cluster.cli(["admin", "retry", "\(queued)"])
        XCTAssertEqual(retry.status, 0, retry.err)
        XCTAssertEqual(try cluster.waitForJobs([queued], timeout: 120).first?.state, .succeeded)
    }

    func testDrainLetsTheWorkerFinishThenLeave() throws {
        try cluster.startCoordinator("coordinator-1")
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let job = try id(try cluster.cli(["submit", "-p", "a blue square", "--seed", "4", "-W", "128", "-H", "128", "--steps", "30"]))
        let store = try cluster.store()
        try waitUntil("job running", timeout: 60) { try store.jobs(ids: [job]).first?.state == .running }
        let drain = try cluster.cli(["admin", "drain", "worker-1"])
        XCTAssertEqual(drain.status, 0, drain.err)
        let process = try XCTUnwrap(cluster.processes["worker-1"])
        try waitUntil("worker-1 leaves", timeout: 120) { !process.isRunning }
        XCTAssertEqual(try store.jobs(ids: [job]).first?.state, .succeeded, "the current job was finished first")
        XCTAssertEqual(try store.workers().first?.state, "offline")
        let unknown = try cluster.cli(["admin", "drain", "nobody"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.err.contains("no worker named nobody"), unknown.err)
    }
}
