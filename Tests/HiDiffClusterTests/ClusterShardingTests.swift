import Foundation
import HiDiffStore
import XCTest

/// Sharded jobs on real worker processes, each on its own simulated host (a network namespace), linked to
/// each other directly: K = 1...4 give `hidiff generate`'s image (pixels within 1; K = 1 exactly), a member
/// killed mid-job costs an attempt but not the image, and impossible groups are refused or wait.
final class ClusterShardingTests: XCTestCase {
    var cluster: LocalCluster!
    let net = NetworkNamespaces()
    var endpoint = ""

    override func setUpWithError() throws {
        try NetworkNamespaces.checkAvailable()
        cluster = try LocalCluster()
        try net.setUp()
        try cluster.startCoordinator("coordinator-1", host: net.gateway, lease: 10, heartbeat: 0.5)
        endpoint = "\(net.gateway):\(cluster.ports["coordinator-1"]!)"
    }

    override func tearDown() {
        cluster?.stop()
        net.tearDown()
    }

    func startWorkers(_ n: Int, extra: [String] = []) throws {
        for i in 1...n {
            try net.addHost(i)
            try cluster.startWorker("worker-ns\(i)", coordinators: [endpoint], prefix: net.prefix(i),
                                    extra: ["--peer-listen", "\(net.address(i)):0"] + extra)
        }
        try cluster.waitForWorkers(n)
        // Each says where its group peers reach it: its namespace's address and the port it bound.
        for (i, worker) in try cluster.store().workers().enumerated() {
            XCTAssertTrue(worker.peerAddress?.hasPrefix("\(net.address(i + 1)):") == true, "\(worker.name): \(worker.peerAddress ?? "nil")")
        }
    }

    func submit(_ args: [String]) throws -> Int64 {
        let r = try cluster.cli(["submit"] + args)
        XCTAssertEqual(r.status, 0, r.err)
        return try XCTUnwrap(Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)), r.out + r.err)
    }

    func testGroupsOfOneToFourWorkersMakeTheSingleProcessImage() throws {
        try startWorkers(4)
        // (workers, size, HiDiffusion, scheduler): stripes that do not fall on window edges and a last stripe
        // of a single latent row (K = 4 at 776 px: 32, 32, 32, 1 rows).
        let cases: [(Int, [String])] = [
            (1, ["-W", "128", "-H", "128", "--scheduler", "euler-a"]),
            (2, ["-W", "128", "-H", "264", "--hidiffusion", "off", "--scheduler", "dpm++2m"]),
            (3, ["-W", "136", "-H", "776", "--scheduler", "euler-a"]),
            (4, ["-W", "136", "-H", "776", "--scheduler", "ddim"]),
        ]
        var ids: [Int64] = []
        for (k, args) in cases {
            ids.append(try submit(["-p", "a green circle", "--seed", "\(20 + k)", "--steps", "5", "--workers", "\(k)"] + args))
        }
        let records = try cluster.waitForJobs(ids, timeout: 600)
        let references = ReferenceImages(cluster: cluster)
        for ((k, _), record) in zip(cases, records) {
            XCTAssertEqual(record.state, .succeeded, "K=\(k): \(record.error ?? "")")
            XCTAssertEqual(record.workers.count, k, "K=\(k): \(record.workers)")
            XCTAssertEqual(Set(record.workers).count, k, "K=\(k): distinct workers")
            let result = try XCTUnwrap(try cluster.store().result(jobID: record.id))
            let difference = try references.maxDifference(result, requestJSON: record.requestJSON)
            XCTAssertLessThanOrEqual(difference, k == 1 ? 0 : 1, "K=\(k): max pixel difference from hidiff generate")
        }
        // Rank 0 logged what its group sent, by kind.
        XCTAssertTrue((1...4).contains { cluster.log("worker-ns\($0)").contains("halo=") }, "group traffic logged")
        let status = try cluster.cli(["status", "--json", "\(ids[3])"])
        XCTAssertTrue(status.out.contains("\"workers\""), status.out)
    }

    func testAMemberKilledMidJobCostsAnAttemptNotTheImage() throws {
        try startWorkers(3)
        let id = try submit(["-p", "a yellow square", "--seed", "8", "-W", "128", "-H", "264", "--hidiffusion", "off",
                             "--steps", "40", "--scheduler", "euler-a", "--workers", "2", "--max-attempts", "5"])
        let store = try cluster.store()
        var running: JobRecord?
        try waitUntil("job \(id) past step 6", timeout: 180) {
            running = try store.jobs(ids: [id]).first
            return running?.state == .running && (running?.step ?? 0) >= 6
        }
        let members = try XCTUnwrap(running?.workers)
        XCTAssertEqual(members.count, 2)
        cluster.signal(members[1], SIGKILL)
        let record = try XCTUnwrap(cluster.waitForJobs([id], timeout: 300).first)
        XCTAssertEqual(record.state, .succeeded, record.error ?? "")
        XCTAssertGreaterThanOrEqual(record.attempt, 2, "the group was re-formed")
        XCTAssertFalse(record.workers.contains(members[1]), "the killed member is not in the final group")
        XCTAssertTrue(try store.events(jobID: id).contains { $0.kind == "checkpointed" })
        let result = try XCTUnwrap(try store.result(jobID: id))
        XCTAssertLessThanOrEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: record.requestJSON), 1)
    }

    func testGroupsThatCannotFormAreRefusedOrWait() throws {
        try startWorkers(2)
        // The latent cannot hold the stripes: refused at submit, naming what would work.
        let refused = try cluster.cli(["submit", "-p", "x", "-W", "128", "-H", "128", "--workers", "4"])
        XCTAssertEqual(refused.status, 64, "a usage error")
        XCTAssertTrue(refused.err.contains("at most"), refused.err)
        // More workers than the cluster has: queued, not claimed, while a whole job passes it.
        let big = try submit(["-p", "x", "-W", "128", "-H", "776", "--hidiffusion", "off", "--steps", "2", "--workers", "3"])
        let small = try submit(["-p", "y", "-W", "64", "-H", "64", "--steps", "2"])
        XCTAssertEqual(try cluster.waitForJobs([small], timeout: 120).first?.state, .succeeded)
        XCTAssertEqual(try cluster.store().jobs(ids: [big]).first?.state, .queued)
    }

    /// Workers that say they have 300 MB: a 512 px demo job is estimated at about 353 MiB on one worker and
    /// 264 MiB on each of two, so the coordinator splits it in two; a 4096 px job fits no group and fails at
    /// once with what would work.
    func testWithoutWorkersTheCoordinatorSplitsWhatOneWorkerCannotHold() throws {
        try startWorkers(2, extra: ["--memory", "300000000"])
        let split = try submit(["-p", "a red circle", "--seed", "3", "-W", "512", "-H", "512", "--steps", "2"])
        let tooBig = try submit(["-p", "a red circle", "--seed", "3", "-W", "4096", "-H", "4096", "--steps", "2"])
        let records = try cluster.waitForJobs([split, tooBig], timeout: 300)
        XCTAssertEqual(records[0].state, .succeeded, records[0].error ?? "")
        XCTAssertEqual(records[0].workers.count, 2, "split over two workers: \(records[0].workers)")
        let result = try XCTUnwrap(try cluster.store().result(jobID: split))
        XCTAssertLessThanOrEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: records[0].requestJSON), 1)
        XCTAssertEqual(records[1].state, .failed)
        XCTAssertEqual(records[1].attempt, 1, "refused at its first claim")
        XCTAssertTrue(records[1].error?.contains("more memory") == true, records[1].error ?? "")
    }
}
