import Foundation
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// TLS on every link of a real cluster (certificates made at test time by ops/tls-certs): a batch and a
/// sharded job render over mutual TLS to `hidiff generate`'s images, the HTTP API answers HTTPS to a client
/// trusting the CA, workers that are not of the cluster's CA (or speak plaintext) are refused, and no log line
/// holds a token.
final class ClusterTLSTests: XCTestCase {
    var cluster: LocalCluster!
    var certs: TestCertificates!
    var other: TestCertificates!
    let apiToken = "api-token-for-tls-tests-0123456789"

    override func setUpWithError() throws {
        cluster = try LocalCluster()
        certs = try TestCertificates(names: ["coordinator-1", "worker-1", "worker-2"])
        other = try TestCertificates(names: ["intruder"])
    }

    override func tearDown() {
        cluster?.stop()
        certs?.remove()
        other?.remove()
    }

    /// Every log line, trace and debug included: the secrets check must see everything a process can log.
    let verbose = ["HIDIFF_LOG_LEVEL": "trace"]

    func submit(_ args: [String]) throws -> [Int64] {
        let r = try cluster.cli(["submit", "--json"] + args)
        XCTAssertEqual(r.status, 0, r.err)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]], r.out + r.err)
        return rows.compactMap { ($0["id"] as? NSNumber)?.int64Value }
    }

    func testABatchAndAShardedJobRenderOverTLSAndHTTPSAnswers() throws {
        let tokenFile = cluster.dir + "/api-token"
        try Data((apiToken + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        let httpPort = LoopbackPort.unused()
        try cluster.startCoordinator("coordinator-1", extra: certs.flags("coordinator-1") + [
            "--http", "127.0.0.1:\(httpPort)", "--api-token-file", tokenFile], environment: verbose)
        try waitUntil("HTTPS API listens", timeout: 30) { LocalCluster.canConnect(host: "127.0.0.1", port: httpPort) }
        for name in ["worker-1", "worker-2"] {
            try cluster.startWorker(name, coordinators: [cluster.endpoint("coordinator-1")],
                                    extra: certs.flags(name) + ["--peer-listen", "127.0.0.1:0"], environment: verbose)
        }
        try cluster.waitForWorkers(2)

        let batch = try submit(["-p", "a red circle", "--seeds", "1-4", "-W", "64", "-H", "64", "--steps", "3",
                                "--batch", "tls"])
        XCTAssertEqual(batch.count, 4)
        // Two workers on one image: their group links are TLS too (each verifies the other against the CA).
        let sharded = try submit(["-p", "a green circle", "--seed", "7", "-W", "128", "-H", "264", "--hidiffusion", "off",
                                  "--steps", "3", "--scheduler", "euler-a", "--workers", "2"])
        XCTAssertEqual(sharded.count, 1)

        // The A1111 endpoint over HTTPS, with the API token: one more job, answered when it has finished.
        let https = HTTPSTestClient(port: httpPort, caFile: certs.ca)
        let txt2img = try https.send("POST", "/sdapi/v1/txt2img", headers: ["Authorization": "Bearer \(apiToken)"],
                                     json: #"{"prompt": "a blue square", "seed": 3, "width": 64, "height": 64, "steps": 2}"#)
        XCTAssertEqual(txt2img.status, 200, String(txt2img.body.prefix(300)))
        XCTAssertTrue(txt2img.body.contains("\"images\""), String(txt2img.body.prefix(300)))
        // A wrong token is refused over HTTPS as over HTTP (and must not be logged either).
        let refused = try https.send("POST", "/sdapi/v1/txt2img", headers: ["Authorization": "Bearer \(apiToken)-wrong"],
                                     json: #"{"prompt": "x"}"#)
        XCTAssertEqual(refused.status, 401)

        let records = try cluster.waitForJobs(batch + sharded, timeout: 600)
        let references = ReferenceImages(cluster: cluster)
        let store = try cluster.store()
        for record in records {
            XCTAssertEqual(record.state, .succeeded, "job \(record.id): \(record.error ?? "")")
            let result = try XCTUnwrap(try store.result(jobID: record.id))
            let k = record.workers.count
            XCTAssertLessThanOrEqual(try references.maxDifference(result, requestJSON: record.requestJSON), k == 1 ? 0 : 1,
                                     "job \(record.id) (\(k) workers) against hidiff generate")
        }
        XCTAssertEqual(try XCTUnwrap(records.last).workers.count, 2, "the sharded job ran on a group of two")

        // HTTPS answers a client that trusts the CA ...
        let metrics = try https.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("hidiff_jobs{state=\"succeeded\"} 6"), String(metrics.body.prefix(600)))
        // ... and nothing else: plaintext HTTP on the TLS port gets no HTTP reply, a client trusting another CA
        // refuses the server.
        XCTAssertThrowsError(try HTTPTestClient(port: httpPort).send("GET", "/healthz", headers: [:], body: nil, timeout: 5))
        XCTAssertThrowsError(try HTTPSTestClient(port: httpPort, caFile: other.ca).get("/healthz"))
        XCTAssertEqual(try https.get("/healthz").status, 200, "still serving")

        for name in ["worker-1", "worker-2"] {
            let listening = cluster.log(name).split(separator: "\n").filter { $0.contains("peer listener on 127.0.0.1:") }
            XCTAssertEqual(listening.count, 1, "\(name)")
            XCTAssertTrue(listening.first?.contains(" tls=on ") == true, "\(name)'s group links are TLS: \(listening)")
        }
        for name in ["coordinator-1", "worker-1", "worker-2"] {
            XCTAssertTrue(cluster.log(name).contains("TLS on"), "\(name) says TLS is on")
            XCTAssertFalse(cluster.log(name).contains("TLS is off"), "\(name) warns of no plaintext link")
        }
        try assertNoSecretsLogged()
    }

    func testWorkersOfAnotherCAOrWithoutTLSAreRefused() throws {
        try cluster.startCoordinator("coordinator-1", extra: certs.flags("coordinator-1"))
        let endpoint = [cluster.endpoint("coordinator-1")]
        // Trusts the cluster's CA but presents a certificate another CA signed.
        try cluster.startWorker("intruder", coordinators: endpoint,
                                extra: ["--tls-cert", other.certificate("intruder"), "--tls-key", other.key("intruder"),
                                        "--tls-ca", certs.ca])
        // Plain TCP on the TLS port.
        try cluster.startWorker("plaintext", coordinators: endpoint)
        // A certificate of the cluster, but it trusts another CA: it refuses the coordinator.
        try cluster.startWorker("distrustful", coordinators: endpoint,
                                extra: ["--tls-cert", certs.certificate("worker-2"), "--tls-key", certs.key("worker-2"),
                                        "--tls-ca", other.ca])
        try waitUntil("three refusals", timeout: 30) {
            ["intruder", "plaintext", "distrustful"].allSatisfy { cluster.log($0).contains("could not join coordinator") }
        }
        XCTAssertEqual(try cluster.store().workers().map(\.name), [], "no refused worker registered")
        // The coordinator refused the intruder's certificate and the plaintext hello; the distrustful worker
        // refused the coordinator's certificate.
        let coordinator = cluster.log("coordinator-1")
        XCTAssertTrue(coordinator.contains("closed an unauthenticated connection"), coordinator)
        XCTAssertTrue(coordinator.contains("CERTIFICATE_VERIFY_FAILED"), coordinator)
        XCTAssertTrue(coordinator.contains("WRONG_VERSION_NUMBER"), coordinator)
        XCTAssertTrue(cluster.log("intruder").contains("ALERT_UNKNOWN_CA"), cluster.log("intruder"))
        XCTAssertTrue(cluster.log("distrustful").contains("CERTIFICATE_VERIFY_FAILED"), cluster.log("distrustful"))
        XCTAssertTrue(cluster.log("plaintext").contains("TLS is off on the coordinator link: plain TCP"), "plain TCP warns at start")
        XCTAssertTrue(cluster.log("coordinator-1").contains("TLS on"))

        // The coordinator keeps serving: a worker of the cluster joins.
        try cluster.startWorker("worker-1", coordinators: endpoint, extra: certs.flags("worker-1"))
        try cluster.waitForWorkers(1)
        XCTAssertEqual(try cluster.store().workers().map(\.name), ["worker-1"])
    }

    func testBadCertificateFilesStopTheCoordinatorWithTheFileNamed() throws {
        let args = ["coordinator", "--listen", "127.0.0.1:0", "--token-file", cluster.tokenFile]
        let mismatched = try cluster.cli(args + ["--tls-cert", certs.certificate("coordinator-1"), "--tls-key", certs.key("worker-1")])
        XCTAssertNotEqual(mismatched.status, 0)
        XCTAssertTrue(mismatched.err.contains("--tls-key \(certs.key("worker-1")) is not the private key of --tls-cert"), mismatched.err)
        let missing = try cluster.cli(args + ["--tls-cert", certs.dir + "/missing.pem", "--tls-key", certs.key("worker-1")])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("cannot read --tls-cert \(certs.dir)/missing.pem"), missing.err)
        let caOnly = try cluster.cli(args + ["--tls-ca", certs.ca])
        XCTAssertNotEqual(caOnly.status, 0)
        XCTAssertTrue(caOnly.err.contains("needs --tls-cert and --tls-key"), caOnly.err)
    }

    /// The cluster token, the API token and any private key appear in no process's log.
    func assertNoSecretsLogged(file: StaticString = #filePath, line: UInt = #line) throws {
        let clusterToken = try String(contentsOfFile: cluster.tokenFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertGreaterThanOrEqual(clusterToken.count, 16)
        // Also as the byte array a careless "\(configuration)" would print.
        let tokenBytes = "\(Array(clusterToken.utf8).prefix(8))".dropLast()
        var lines = 0
        for name in cluster.processes.keys.sorted() {
            let log = cluster.log(name)
            lines += log.split(separator: "\n").count
            XCTAssertFalse(log.contains(clusterToken), "\(name)'s log holds the cluster token", file: file, line: line)
            XCTAssertFalse(log.contains(tokenBytes), "\(name)'s log holds the cluster token's bytes", file: file, line: line)
            XCTAssertFalse(log.contains(apiToken), "\(name)'s log holds the API token", file: file, line: line)
            XCTAssertFalse(log.contains("PRIVATE KEY"), "\(name)'s log holds a private key", file: file, line: line)
        }
        XCTAssertGreaterThan(lines, 20, "the logs were captured", file: file, line: line)
    }
}
