import Foundation
import HiDiffImage
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// The HTTP API of a real coordinator (`--http`), with a real worker and PostgreSQL: AUTOMATIC1111 calls as
/// such clients send them, the JSON jobs API, /metrics, and bad requests.
final class ClusterHTTPTests: XCTestCase {
    var cluster: LocalCluster!
    var http: HTTPTestClient!
    let apiToken = "api-token-for-tests-0123456789"

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    /// A coordinator serving HTTP, one worker registered.
    func startCluster(maxBody: Int = 1 << 20) throws {
        let tokenFile = cluster.dir + "/api-token"
        try Data((apiToken + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        let port = LoopbackPort.unused()
        try cluster.startCoordinator("coordinator-1", extra: ["--http", "127.0.0.1:\(port)", "--api-token-file", tokenFile,
                                                                "--http-max-body", "\(maxBody)"])
        try waitUntil("HTTP API listens", timeout: 30) { LocalCluster.canConnect(host: "127.0.0.1", port: port) }
        http = HTTPTestClient(port: port)
        try cluster.startWorker("worker-1", coordinators: [cluster.endpoint("coordinator-1")])
        try cluster.waitForWorkers(1)
    }

    func metrics() throws -> PrometheusText {
        let reply = try http.get("/metrics")
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.headers["content-type"]?.hasPrefix("text/plain") == true)
        return try PrometheusText(reply.text)
    }

    var basicAuth: String { "Basic " + Data("a1111-user:\(apiToken)".utf8).base64EncodedString() }

    func testTxt2imgMatchesGenerateAndTheMetricsMove() throws {
        try startCluster()
        let before = try metrics()
        XCTAssertEqual(before.types["hidiff_jobs"], "gauge")
        XCTAssertEqual(before.value("hidiff_jobs", ["state": "succeeded"]), 0)
        XCTAssertEqual(before.value("hidiff_database_errors_total"), 0)
        XCTAssertNil(before.value("hidiff_jobs_finished_total", ["state": "succeeded"]))
        // Already counted: the harness's probes that the coordinator listens (connect, then close).
        let probes = try XCTUnwrap(before.value("hidiff_coordinator_rejected_connections_total"))

        // Something that is not a worker dials the coordinator's worker port: closed before it registers, counted.
        let port = try XCTUnwrap(Int(cluster.endpoint("coordinator-1").split(separator: ":").last!))
        let fd = try XCTUnwrap(LoopbackPort.connect(port))
        let junk = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = junk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        try waitUntil("the coordinator counts the rejected connection", timeout: 20) {
            try metrics().value("hidiff_coordinator_rejected_connections_total") == probes + 1
        }
        close(fd)

        let models = try XCTUnwrap(try http.get("/sdapi/v1/sd-models").json() as? [[String: Any]])
        XCTAssertEqual(models.map { $0["title"] as? String }, ["shapes"])
        let samplers = try XCTUnwrap(try http.get("/sdapi/v1/samplers").json() as? [[String: Any]])
        XCTAssertEqual(samplers.compactMap { $0["name"] as? String }, ["Euler a", "Euler", "DDIM", "PNDM", "DPM++ 2M"])
        XCTAssertEqual(try http.get("/sdapi/v1/options").object()["sd_model_checkpoint"] as? String, "shapes")

        // Shaped as A1111 clients send it: basic auth, nulls, unknown fields, a sampler alias in odd case.
        let body: [String: Any] = [
            "prompt": "a yellow square", "negative_prompt": "", "seed": 42, "width": 64, "height": 64, "steps": 6,
            "cfg_scale": 7.5, "sampler_name": "pndm", "scheduler": "Automatic", "batch_size": 2, "n_iter": 1,
            "eta": NSNull(), "styles": [String](), "restore_faces": false, "subseed": -1, "enable_hr": false,
            "override_settings": ["sd_model_checkpoint": "shapes [0123abcd]"], "alwayson_scripts": [String: Any](),
        ]
        let reply = try http.post("/sdapi/v1/txt2img", body: try JSONSerialization.data(withJSONObject: body),
                                  headers: ["Authorization": basicAuth])
        XCTAssertEqual(reply.status, 200, reply.text)
        let object = try reply.object()
        let images = try XCTUnwrap(object["images"] as? [String])
        XCTAssertEqual(images.count, 2)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(object["info"] as? String).utf8)) as? [String: Any])
        XCTAssertEqual(info["all_seeds"] as? [Int], [42, 43])
        XCTAssertEqual(info["seed"] as? Int, 42)
        XCTAssertEqual(info["sampler_name"] as? String, "PNDM")
        let parameters = try XCTUnwrap(object["parameters"] as? [String: Any])
        XCTAssertEqual(parameters["steps"] as? Int, 6)
        XCTAssertEqual(parameters["prompt"] as? String, "a yellow square")

        let first = try PNGReader.read(bytes: [UInt8](try XCTUnwrap(Data(base64Encoded: images[0]))))
        let second = try PNGReader.read(bytes: [UInt8](try XCTUnwrap(Data(base64Encoded: images[1]))))
        XCTAssertEqual(first.width, 64)
        XCTAssertEqual(first.height, 64)
        let local = cluster.dir + "/local.png"
        let generate = try cluster.cli(["generate", "-p", "a yellow square", "--seed", "42", "-W", "64", "-H", "64",
                                        "--steps", "6", "--scheduler", "pndm", "--cfg-scale", "7.5", "-o", local, "--quiet"])
        XCTAssertEqual(generate.status, 0, generate.err)
        XCTAssertEqual(first.pixels, try PNGReader.read(local).pixels, "txt2img over HTTP == hidiff generate, pixel for pixel")
        XCTAssertNotEqual(first.pixels, second.pixels, "the second image has seed 43")

        let after = try metrics()
        XCTAssertEqual(after.value("hidiff_jobs", ["state": "succeeded"]), 2)
        XCTAssertEqual(after.value("hidiff_jobs_finished_total", ["state": "succeeded"]), 2)
        XCTAssertEqual(after.types["hidiff_job_duration_seconds"], "histogram")
        XCTAssertEqual(after.value("hidiff_job_duration_seconds_count"), 2)
        XCTAssertEqual(after.value("hidiff_job_queue_wait_seconds_count"), 2)
        XCTAssertGreaterThan(after.value("hidiff_job_duration_seconds_sum") ?? 0, 0)
        XCTAssertEqual(after.value("hidiff_http_jobs_submitted_total", ["api": "a1111"]), 2)
        XCTAssertGreaterThan(after.value("hidiff_http_bytes_sent_total", ["kind": "json"]) ?? 0, Double(reply.body.count))
        XCTAssertNotNil(after.value("hidiff_worker_steps_per_second", ["worker": "worker-1"]))
        // The coordinator's time per reported step: one observation per progress message it recorded (at
        // least one per step: 2 jobs of 6 steps), each a database write, on average well under 0.5 s.
        XCTAssertEqual(after.types["hidiff_coordinator_step_overhead_seconds"], "histogram")
        let steps = after.value("hidiff_coordinator_step_overhead_seconds_count") ?? 0
        XCTAssertGreaterThanOrEqual(steps, 12)
        let spent = after.value("hidiff_coordinator_step_overhead_seconds_sum") ?? 0
        XCTAssertGreaterThan(spent, 0)
        XCTAssertLessThan(spent / steps, 0.5)
        XCTAssertEqual(after.value("hidiff_coordinator_rejected_connections_total"), probes + 1)
        // A scrape counts each finish once.
        XCTAssertEqual(try metrics().value("hidiff_jobs_finished_total", ["state": "succeeded"]), 2)

        let progress = try http.get("/sdapi/v1/progress").object()
        XCTAssertEqual(progress["progress"] as? Double, 0)
        XCTAssertEqual((progress["state"] as? [String: Any])?["job_count"] as? Int, 0)
    }

    func testBadRequestsInsertNothingAndTheServerKeepsServing() throws {
        try startCluster(maxBody: 64 * 1024)
        let good: [String: Any] = ["prompt": "a red circle", "seed": 1, "width": 64, "height": 64, "steps": 4]
        let goodData = try JSONSerialization.data(withJSONObject: good)

        func expect(_ reply: HTTPTestClient.Reply, _ status: Int, field: String? = nil, _ text: String,
                    file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertEqual(reply.status, status, reply.text, file: file, line: line)
            let object = try reply.object()
            XCTAssertTrue((object["error"] as? String)?.contains(text) == true, reply.text, file: file, line: line)
            if let field { XCTAssertEqual(object["field"] as? String, field, reply.text, file: file, line: line) }
        }
        // No or a wrong token.
        try expect(try http.post("/sdapi/v1/txt2img", body: goodData), 401, "needs the API token")
        try expect(try http.post("/sdapi/v1/txt2img", body: goodData, token: apiToken + "x"), 401, "needs the API token")
        try expect(try http.post("/api/v1/jobs", json: ["request": good]), 401, "needs the API token")
        try expect(try http.post("/sdapi/v1/interrupt", body: Data("{}".utf8)), 401, "needs the API token")
        try expect(try http.post("/api/v1/jobs/1/cancel", body: Data()), 401, "needs the API token")
        // Malformed JSON, wrong types, values the CLI's rules refuse, an unknown model.
        try expect(try http.post("/sdapi/v1/txt2img", body: Data("{\"prompt\": ".utf8), token: apiToken), 400, "not valid JSON")
        try expect(try http.post("/api/v1/jobs", body: Data("nope".utf8), token: apiToken), 400, "not valid JSON")
        try expect(try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "steps": "6"], token: apiToken), 422, field: "steps", "steps must be an integer (got a string)")
        try expect(try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "steps": 0], token: apiToken), 422, field: "steps", "must be from 1 to 1000")
        try expect(try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "width": 100], token: apiToken), 422, field: "width", "multiple of 8")
        try expect(try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "override_settings": ["sd_model_checkpoint": "nope"]], token: apiToken),
                   422, field: "override_settings.sd_model_checkpoint", "no registered worker offers model nope")
        try expect(try http.post("/sdapi/v1/img2img", json: ["prompt": "x"], token: apiToken), 422, field: "init_images", "at least one")
        try expect(try http.post("/api/v1/jobs", json: ["request": ["prompt": "x", "steps": "6"]], token: apiToken), 422, field: "request.steps", "request.steps must be an integer")
        try expect(try http.post("/api/v1/jobs", json: ["request": ["prompt": "x", "steps": 0]], token: apiToken), 422, field: "request.steps", "must be from 1 to 1000 (got 0)")
        try expect(try http.post("/api/v1/jobs", json: ["request": good, "max_attempts": 0], token: apiToken), 422, field: "max_attempts", "max_attempts must be from 1 to 100")
        try expect(try http.post("/api/v1/jobs", json: ["request": good, "model": "nope"], token: apiToken), 422, field: "model", "no registered worker offers model nope")
        try expect(try http.post("/api/v1/jobs", json: ["request": good, "seeds": [1, "2"]], token: apiToken), 422, field: "seeds.1", "must be an integer")
        // Too large: refused by its Content-Length, and while reading a body sent without one (chunked).
        let huge = Data(repeating: UInt8(ascii: " "), count: 200 * 1024)
        try expect(try http.post("/sdapi/v1/txt2img", body: huge, token: apiToken), 413, "larger than 65536 bytes")
        var chunked = Data("\(String(huge.count, radix: 16))\r\n".utf8)
        chunked.append(huge)
        chunked.append(Data("\r\n0\r\n\r\n".utf8))
        let streamed = try http.send("POST", "/api/v1/jobs", headers: ["Transfer-Encoding": "chunked", "Authorization": "Bearer \(apiToken)",
                                                                     "Content-Type": "application/json"], body: chunked)
        XCTAssertEqual(streamed.status, 413, streamed.text)

        XCTAssertEqual(try cluster.store().jobs(state: nil, limit: 100).count, 0, "nothing was inserted")
        let rejected = try metrics()
        XCTAssertEqual(rejected.value("hidiff_http_rejected_requests_total", ["status": "401"]), 5)
        XCTAssertEqual(rejected.value("hidiff_http_rejected_requests_total", ["status": "400"]), 2)
        XCTAssertEqual(rejected.value("hidiff_http_rejected_requests_total", ["status": "413"]), 2)
        XCTAssertGreaterThanOrEqual(rejected.value("hidiff_http_rejected_requests_total", ["status": "422"]) ?? 0, 10)

        // Still serving: the JSON API end to end.
        var seedless = good
        seedless["seed"] = nil
        let submitted = try http.post("/api/v1/jobs", json: ["request": seedless, "batch": "api", "seeds": [5, 6]], token: apiToken)
        XCTAssertEqual(submitted.status, 201, submitted.text)
        let jobs = try XCTUnwrap(try submitted.object()["jobs"] as? [[String: Any]])
        XCTAssertEqual(jobs.compactMap { $0["seed"] as? Int }, [5, 6])
        let ids = jobs.compactMap { ($0["id"] as? NSNumber)?.int64Value }
        XCTAssertEqual(ids.count, 2)
        _ = try cluster.waitForJobs(ids, timeout: 120)
        let status = try http.get("/api/v1/jobs/\(ids[0])").object()
        XCTAssertEqual(status["state"] as? String, "succeeded")
        XCTAssertEqual(status["batch"] as? String, "api")
        XCTAssertEqual((status["request"] as? [String: Any])?["seed"] as? Int, 5)
        let png = try http.get("/api/v1/jobs/\(ids[0])/result")
        XCTAssertEqual(png.status, 200)
        XCTAssertEqual(png.headers["content-type"], "image/png")
        let stored = try XCTUnwrap(try cluster.store().result(jobID: ids[0]))
        XCTAssertEqual([UInt8](png.body), stored.png)
        let base64 = try http.get("/api/v1/jobs/\(ids[0])/result?format=base64").object()
        XCTAssertEqual(base64["png"] as? String, Data(stored.png).base64EncodedString())
        let listed = try XCTUnwrap(try http.get("/api/v1/jobs?batch=api").json() as? [[String: Any]])
        XCTAssertEqual(listed.count, 2)
        XCTAssertEqual(try http.get("/api/v1/jobs/999999").status, 404)
        XCTAssertEqual(try http.get("/api/v1/jobs/\(ids[0])/result?format=base64").status, 200)
        XCTAssertEqual(try http.post("/api/v1/jobs/\(ids[0])/retry", body: Data(), token: apiToken).status, 409, "a succeeded job is not retried")
        XCTAssertEqual(try http.post("/api/v1/jobs/\(ids[0])/cancel", body: Data(), token: apiToken).object()["cancelled"] as? [Int], [])
        let workers = try XCTUnwrap(try http.get("/api/v1/workers").json() as? [[String: Any]])
        XCTAssertEqual(workers.compactMap { $0["name"] as? String }, ["worker-1"])
        let queue = try http.get("/api/v1/queue").object()
        XCTAssertEqual((queue["countsByState"] as? [String: Int])?["succeeded"], 2)
        XCTAssertEqual(try http.post("/sdapi/v1/interrupt", body: Data("{}".utf8), token: apiToken).status, 200)
        XCTAssertEqual(try cluster.store().jobs(state: nil, limit: 100).count, 2)
    }

    func testHTTPNeedsAnAPIToken() throws {
        let r = try cluster.cli(["coordinator", "--http", "127.0.0.1:0", "--token-file", cluster.tokenFile, "--listen", "127.0.0.1:0"],
                                environment: ["HIDIFF_API_TOKEN": ""])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--http needs an API token"), r.err)
    }
}
