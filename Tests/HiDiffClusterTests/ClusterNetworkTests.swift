import Foundation
import HiDiffStore
import XCTest

/// Workers on their own simulated hosts (network namespaces); one is cut off mid-job.
final class ClusterNetworkTests: XCTestCase {
    var cluster: LocalCluster!
    let net = NetworkNamespaces()

    override func setUpWithError() throws {
        try NetworkNamespaces.checkAvailable()
        cluster = try LocalCluster()
        try net.setUp()
        try net.addHost(1)
        try net.addHost(2)
    }

    override func tearDown() {
        cluster?.stop()
        net.tearDown()
    }

    func testWorkerCutOffMidJobIsReplacedAndTheImageIsTheSame() throws {
        // The coordinator listens on the bridge's address only; the workers reach it across their veth links.
        try cluster.startCoordinator("coordinator-1", host: net.gateway, lease: 6, heartbeat: 0.5)
        let endpoint = "\(net.gateway):\(cluster.ports["coordinator-1"]!)"
        try cluster.startWorker("worker-ns1", coordinators: [endpoint], prefix: net.prefix(1))
        try cluster.waitForWorkers(1)
        let submitted = try cluster.cli(["submit", "-p", "a red triangle", "--seed", "5", "-W", "128", "-H", "128",
                                         "--steps", "40", "--scheduler", "dpm++2m", "--cfg-scale", "6"])
        XCTAssertEqual(submitted.status, 0, submitted.err)
        let id = try XCTUnwrap(Int64(submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        let store = try cluster.store()
        try waitUntil("job \(id) past step 6 on worker-ns1", timeout: 120) {
            guard let r = try store.jobs(ids: [id]).first else { return false }
            return r.state == .running && r.step >= 6
        }
        try cluster.startWorker("worker-ns2", coordinators: [endpoint], prefix: net.prefix(2))
        try cluster.waitForWorkers(2)
        try net.cut(1)
        let record = try XCTUnwrap(cluster.waitForJobs([id], timeout: 300).first)
        XCTAssertEqual(record.state, .succeeded, record.error ?? "")
        XCTAssertEqual(record.workers, ["worker-ns2"], "the job moved to the host still connected")
        let result = try XCTUnwrap(try store.result(jobID: id))
        XCTAssertEqual(try ReferenceImages(cluster: cluster).maxDifference(result, requestJSON: record.requestJSON), 0)
        XCTAssertTrue(cluster.log("coordinator-1").contains("worker-ns1"), "the coordinator logged the lost worker")
    }
}
