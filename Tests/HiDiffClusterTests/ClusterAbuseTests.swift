import Foundation
import HiDiffTestSupport
import HiDiffStore
import XCTest

/// Wrong tokens and bad bytes cost one connection each, logged; the cluster keeps serving.
final class ClusterAbuseTests: XCTestCase {
    var cluster: LocalCluster!

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    /// Sends `bytes` to the coordinator and reports whether it closed the connection within `timeout`.
    func closesAfterSending(_ bytes: [UInt8], port: Int, halfClose: Bool = false, timeout: Double = 15) -> Bool {
        guard let fd = LoopbackPort.connect(port) else { return false }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }           // orderly close
            if n < 0 { return errno == ECONNRESET }
        }
        return false
    }

    /// A frame header: "HDF", version, type, flags, two reserved bytes, little-endian length.
    func header(version: UInt8 = 1, type: UInt8, length: UInt32, reserved: UInt8 = 0) -> [UInt8] {
        [0x48, 0x44, 0x46, version, type, 0, reserved, 0] + withUnsafeBytes(of: length.littleEndian) { Array($0) }
    }

    func testBadConnectionsAreRefusedAndLoggedWhileJobsStillRun() throws {
        let port = try cluster.startCoordinator("coordinator-1")
        XCTAssertTrue(closesAfterSending(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), port: port), "garbage")
        XCTAssertTrue(closesAfterSending(header(type: 1, length: 0xFFFF_FFF0), port: port), "oversized frame")
        XCTAssertTrue(closesAfterSending(header(type: 200, length: 4) + [1, 2, 3, 4], port: port), "unknown type")
        XCTAssertTrue(closesAfterSending(header(version: 9, type: 1, length: 0), port: port), "wrong version")
        XCTAssertTrue(closesAfterSending(header(type: 1, length: 100) + [1, 2, 3], port: port, halfClose: true), "truncated frame")
        XCTAssertTrue(closesAfterSending(header(type: 5, length: 0), port: port), "register before the handshake")
        XCTAssertTrue(closesAfterSending([], port: port, timeout: 30), "silent client: handshake timeout")

        // A worker holding the wrong token never registers.
        let wrongToken = cluster.dir + "/wrong-token"
        try Data(String(repeating: "f", count: 64).utf8).write(to: URL(fileURLWithPath: wrongToken))
        try cluster.launch("impostor", ["worker", "--coordinator", cluster.endpoint("coordinator-1"), "--token-file", wrongToken, "--name", "impostor"])
        try waitUntil("the impostor's refusal is logged", timeout: 30) {
            cluster.log("coordinator-1").lowercased().contains("authentication")
        }
        XCTAssertEqual(try cluster.store().workers().map(\.name), [], "the impostor did not register")

        // The coordinator still serves a real worker and its job.
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
        let r = try cluster.cli(["submit", "-p", "a green circle", "--seed", "3", "-W", "64", "-H", "64", "--steps", "3"])
        XCTAssertEqual(r.status, 0, r.err)
        let id = try XCTUnwrap(Int64(r.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(try cluster.waitForJobs([id], timeout: 120).first?.state, .succeeded)
        XCTAssertTrue(cluster.processes["coordinator-1"]!.isRunning)

        let log = cluster.log("coordinator-1")
        let refusals = log.components(separatedBy: "closed an unauthenticated connection").count - 1
        XCTAssertGreaterThanOrEqual(refusals, 8, "every bad connection is logged with its reason:\n\(log)")
    }
}
