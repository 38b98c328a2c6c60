import Foundation
import HiDiffImage
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// The live status page and previews on a real cluster (PostgreSQL, a coordinator with `--http`, worker
/// processes sending previews), read by headless Chromium from Debian's `chromium` package.
final class ClusterStatusPageTests: XCTestCase {
    var cluster: LocalCluster!
    var http: HTTPTestClient!
    var httpPort = 0
    let apiToken = "api-token-for-tests-0123456789"

    override func setUpWithError() throws { cluster = try LocalCluster() }
    override func tearDown() { cluster?.stop() }

    func startCluster(workers: Int) throws {
        let tokenFile = cluster.dir + "/api-token"
        try Data((apiToken + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        httpPort = LoopbackPort.unused()
        try cluster.startCoordinator("coordinator-1", extra: ["--http", "127.0.0.1:\(httpPort)", "--api-token-file", tokenFile])
        try waitUntil("HTTP API listens", timeout: 30) { LocalCluster.canConnect(host: "127.0.0.1", port: httpPort) }
        http = HTTPTestClient(port: httpPort)
        for i in 1...workers {
            try cluster.startWorker("worker-\(i)", coordinators: [cluster.endpoint("coordinator-1")], extra: ["--preview-every", "1"])
        }
        try cluster.waitForWorkers(workers)
    }

    /// While an AUTOMATIC1111 call renders, `/sdapi/v1/progress` carries the latest preview as `current_image`
    /// (a PNG at latent size: 128 px over the demo model's VAE factor 4 is 32), and so does
    /// `/api/v1/jobs/ID/preview`; once the job is done both are gone.
    func testPreviewsReachProgressAndThePreviewEndpoint() throws {
        try startCluster(workers: 1)
        let body: [String: Any] = ["prompt": "a green triangle", "seed": 9, "width": 128, "height": 128, "steps": 60,
                                   "sampler_name": "Euler"]
        let answer = LockedBox<HTTPTestClient.Reply?>(nil)
        let client = http!, token = apiToken
        let data = try JSONSerialization.data(withJSONObject: body)
        let call = Thread { answer.withValue { $0 = try? client.post("/sdapi/v1/txt2img", body: data, token: token) } }
        call.start()
        var image: RGBImage?
        var job = ""
        var steps: [Int] = []
        try waitUntil("progress carries a preview", timeout: 120) {
            let progress = try http.get("/sdapi/v1/progress").object()
            guard let text = progress["current_image"] as? String, let png = Data(base64Encoded: text) else { return false }
            image = try PNGReader.read(bytes: [UInt8](png))
            let state = try XCTUnwrap(progress["state"] as? [String: Any])
            job = state["job"] as? String ?? ""
            steps.append(state["sampling_step"] as? Int ?? -1)
            return steps.count >= 2 && steps.last! > steps.first!
        }
        XCTAssertEqual(image?.width, 32)
        XCTAssertEqual(image?.height, 32)
        XCTAssertGreaterThan(Set(image?.pixels ?? []).count, 8, "the preview is of a real latent, not a flat image")
        let id = try XCTUnwrap(Int(job.replacingOccurrences(of: "job ", with: "")))
        let preview = try http.get("/api/v1/jobs/\(id)/preview")
        if preview.status == 200 {  // (the job may just have finished)
            XCTAssertEqual(preview.headers["content-type"], "image/png")
            XCTAssertEqual(try PNGReader.read(bytes: [UInt8](preview.body)).width, 32)
        }
        try waitUntil("txt2img answers", timeout: 180) { answer.current != nil }
        XCTAssertEqual(answer.current?.status, 200)
        XCTAssertEqual(try http.get("/sdapi/v1/progress").object()["current_image"] as? NSNull, NSNull())
        XCTAssertEqual(try http.get("/api/v1/jobs/\(id)/preview").status, 404)
        XCTAssertEqual(try http.get("/api/v1/jobs/0/preview").status, 400)
        // A finished job keeps no checkpoint; an unknown one is not found.
        let checkpoint = try http.get("/api/v1/jobs/\(id)/checkpoint")
        XCTAssertEqual(checkpoint.status, 404)
        XCTAssertTrue(checkpoint.text.contains("has no checkpoint"), checkpoint.text)
        XCTAssertTrue(try http.get("/api/v1/jobs/99999/checkpoint").text.contains("no job with id 99999"))
    }

    /// The page in headless Chromium while a batch renders: live progress arrives over server-sent events
    /// without a reload, and the workers table, a preview and a finished result are on it; a screenshot
    /// (also written to `$HIDIFF_STATUS_SCREENSHOT` when set: how docs/status-page.png is made); the admin
    /// buttons with the token; then the job and batch pages.
    func testStatusPageInHeadlessChromium() throws {
        let chromium = try Chromium.find()
        try startCluster(workers: 2)
        // Long enough jobs that the batch is still rendering while the page is watched: at 50 steps a fast
        // machine (50 steps/s per worker) finished all 8 before Chromium showed a preview past step 30.
        let steps = 200
        let submit = try cluster.cli(["submit", "-p", "a red circle", "-W", "128", "-H", "128", "--seeds", "1-8",
                                      "--batch", "page", "--steps", "\(steps)", "--scheduler", "euler"])
        XCTAssertEqual(submit.status, 0, submit.err)
        let ids = submit.out.split(separator: "\n").compactMap { Int64($0) }
        XCTAssertEqual(ids.count, 8)
        let store = try cluster.store()
        try waitUntil("a job finished while others run", timeout: 180) {
            let jobs = try store.jobs(ids: ids)
            return jobs.contains { $0.state == .succeeded } && jobs.filter { $0.state == .running }.count == 2
        }

        let url = "http://127.0.0.1:\(httpPort)/"
        let browser = try Chromium(path: chromium, width: 1280, height: 900)
        try browser.open(url)
        // Live progress without a reload: the page's script lists every event it receives in #live-log.
        try browser.wait(for: "document.querySelectorAll('#live-log li.live-status').length >= 6", timeout: 60)
        // A preview far enough along to show the shape forming (it is also what the screenshot shows).
        try browser.wait(for: "[...document.querySelectorAll('#jobs img.thumb.preview')].some(i => Number(i.dataset.step) >= 30)", timeout: 60)
        let pageID = try browser.evaluate("document.getElementById('live-log').dataset.pageId") as? String
        let dom = try browser.dom()
        XCTAssertEqual(try browser.evaluate("document.getElementById('live-log').dataset.pageId") as? String, pageID,
                       "the same page load throughout")
        XCTAssertEqual(try browser.evaluate("performance.getEntriesByType('navigation').length") as? Int, 1)
        let progress = PageDump(html: dom).progressByJob()
        XCTAssertTrue(progress.values.contains { steps in steps.count >= 2 && steps.last! > steps.first! },
                      "no job's step advanced across the status events: \(progress)")
        XCTAssertGreaterThanOrEqual(Int(try browser.evaluate("document.getElementById('live-log').dataset.previewEvents") as? String ?? "") ?? 0, 1)
        XCTAssertTrue(dom.contains(#"<table id="workers">"#))
        XCTAssertTrue(dom.contains(#"data-worker="worker-1""#) && dom.contains(#"data-worker="worker-2""#), "both workers listed")
        XCTAssertTrue(dom.contains(#"class="thumb preview""#) && dom.contains("src=\"data:image/png;base64,"), "a preview image")
        XCTAssertTrue(dom.contains(#"class="thumb result""#), "a finished result")
        XCTAssertTrue(dom.contains(#"<span id="role">read-only</span>"#), "without a token the page is read-only")
        // A result that arrived with the last event may still be loading: wait for it, then check its size.
        try browser.wait(for: "(i => i !== null && i.complete && i.naturalWidth > 0)(document.querySelector('#jobs img.thumb.result'))",
                         timeout: 30)
        XCTAssertEqual(try browser.evaluate("document.querySelector('#jobs img.thumb.result').naturalWidth") as? Int, 128,
                       "the result image loaded")
        // The progress bars are as wide as the steps done (set through the CSSOM: the CSP refuses style attributes).
        let widths = try XCTUnwrap(try browser.evaluate("""
            [...document.querySelectorAll('#jobs tr[data-state]')].map(r => [r.dataset.state, Number(r.dataset.step),
              Math.round(100 * r.querySelector('.bar > span').getBoundingClientRect().width / r.querySelector('.bar').getBoundingClientRect().width)])
            """) as? [[Any]])
        for row in widths {
            let state = row[0] as? String, step = row[1] as? Int ?? -1, percent = row[2] as? Int ?? -1
            if state == "succeeded" { XCTAssertEqual(percent, 100) }
            if state == "queued" { XCTAssertEqual(percent, 0) }
            if state == "running" {
                XCTAssertEqual(Double(percent), Double(step) * 100 / Double(steps), accuracy: 6, "step \(step) of \(steps)")
            }
        }

        let shot = try browser.screenshot()
        let image = try PNGReader.read(bytes: [UInt8](shot))
        XCTAssertEqual([image.width, image.height], [1280, 900])
        XCTAssertGreaterThan(Set(stride(from: 0, to: image.pixels.count, by: 997).map { image.pixels[$0] }).count, 8, "a blank screenshot")
        try shot.write(to: URL(fileURLWithPath: cluster.dir + "/status-page.png"))
        if let out = ProcessInfo.processInfo.environment["HIDIFF_STATUS_SCREENSHOT"], !out.isEmpty {
            try shot.write(to: URL(fileURLWithPath: out))
        }

        // With the token, the admin buttons appear (and call the token-protected API).
        try browser.evaluate("document.getElementById('token').value = '\(apiToken)'; document.getElementById('token-save').click(); true")
        try browser.wait(for: "document.getElementById('role').textContent === 'admin'", timeout: 10)
        try browser.wait(for: "[...document.querySelectorAll('#jobs button.admin')].some(b => getComputedStyle(b).display !== 'none')", timeout: 10)

        let done = try XCTUnwrap(try store.jobs(ids: ids).first { $0.state == .succeeded })
        try browser.open(url + "jobs/\(done.id)")
        try browser.wait(for: "document.getElementById('job-metadata') !== null", timeout: 30)
        let jobDOM = try browser.dom()
        XCTAssertTrue(jobDOM.contains(#"id="job-request""#) && jobDOM.contains("a red circle"))
        XCTAssertTrue(jobDOM.contains(#"class="big result" id="job-image""#), "the job page shows its result")
        XCTAssertTrue(jobDOM.contains("\"seed\""), "with its metadata")
        XCTAssertTrue(jobDOM.contains("<td>succeeded</td>") && jobDOM.contains("<td>claimed</td>"), "and its events")
        XCTAssertTrue(jobDOM.contains("checkpoint</dt><dd>") && jobDOM.contains(" taken (last: "), "and its checkpoints")
        try browser.open(url + "batches/page")
        try browser.wait(for: "document.querySelectorAll('#batch-grid .tile').length === 8", timeout: 30)
        XCTAssertTrue(try browser.dom().contains(#"<img class="result""#))
    }
}
