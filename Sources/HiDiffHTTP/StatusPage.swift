import Foundation
import HiDiffStore
import Hummingbird
import NIOCore

/// The live status page: `/` (queue, throughput, workers, jobs with progress bars and previews), `/jobs/ID`
/// (request, events, checkpoint, result and its metadata), `/batches/NAME` (a grid of its images). Plain
/// HTML, CSS and JavaScript from this binary (`StatusPageAssets`); the page reads the JSON API and follows
/// `/api/v1/stream`, a server-sent event stream of `status` snapshots and `preview` images. Admin buttons
/// call the token-protected API with the token the user types (kept in the tab's sessionStorage).
struct StatusPage: Sendable {
    let services: APIServices

    /// Seconds between `status` events on a stream.
    static let streamInterval: Double = 0.5

    func register(on router: Router<BasicRequestContext>) {
        for path in ["", "status"] {
            router.get(RouterPath(path)) { _, _ in html() }
        }
        router.get("jobs/:id") { _, context in
            _ = try jobID(context)
            return html()
        }
        router.get("batches/:name") { _, _ in html() }
        router.get("ui/app.js") { _, _ in
            asset(StatusPageAssets.script, type: "text/javascript; charset=utf-8")
        }
        router.get("ui/style.css") { _, _ in asset(StatusPageAssets.style, type: "text/css; charset=utf-8") }
        let api = router.group("api/v1")
        api.get("stream") { _, _ in try stream() }
        api.get("jobs/:id/preview") { _, context in
            let id = try jobID(context)
            guard let preview = services.previews.latest(jobID: id) else {
                throw APIError(.notFound, "job \(id) has no preview here: previews exist while a job runs on a worker started with --preview-every, and only on the coordinator that runs it",
                               kind: "not_found")
            }
            var response = services.bytes(preview.png, contentType: "image/png", kind: "preview")
            response.headers[.cacheControl] = "no-store"
            response.headers[.init("X-Preview-Step")!] = "\(preview.step)/\(preview.steps)"
            return response
        }
        api.get("jobs/:id/checkpoint") { _, context in
            let id = try jobID(context)
            guard try await services.db({ try $0.job(id: id) }) != nil else {
                throw APIError(.notFound, "no job with id \(id)", kind: "not_found")
            }
            guard let checkpoint = try await services.db({ try $0.checkpoint(jobID: id) }) else {
                throw APIError(.notFound, "job \(id) has no checkpoint: none taken yet, or the job has ended (its checkpoint is dropped then; its events list those taken)",
                               kind: "not_found")
            }
            return try services.json(["job": id, "attempt": checkpoint.attempt, "step": checkpoint.step,
                                      "bytes": checkpoint.state.count])
        }
    }

    private func html() -> Response {
        var response = asset(StatusPageAssets.html, type: "text/html; charset=utf-8")
        // Everything comes from this server; nothing inline, nothing from elsewhere.
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        return response
    }

    private func asset(_ text: String, type: String) -> Response {
        var response = services.bytes(Array(text.utf8), contentType: type, kind: "page")
        response.headers[.cacheControl] = "no-cache"
        response.headers[.xContentTypeOptions] = "nosniff"
        return response
    }

    /// `text/event-stream`: a `status` event (`StatusFeed.snapshotJSON`) every `streamInterval` seconds, and a
    /// `preview` event (`{job, attempt, step, steps, png}`, png in base64) for each new preview. A database
    /// outage sends an `error` event and the stream goes on; it ends when the client leaves.
    private func stream() throws -> Response {
        guard services.feed.open() else {
            throw APIError(.serviceUnavailable, "too many open status streams (\(services.feed.maxStreams)); close some pages", kind: "busy")
        }
        let services = services
        let body = ResponseBody { writer in
            defer { services.feed.close() }
            var sequence = 0
            var previewVersion: UInt64 = 0
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while !Task.isCancelled {
                sequence += 1
                var events: [ServerSentEvent] = []
                do {
                    events.append(ServerSentEvent(event: "status", id: "\(sequence)", data: try await services.feed.snapshot(services)))
                } catch let error as APIError {
                    events.append(ServerSentEvent(event: "error", id: "\(sequence)", data: error.message))
                }
                for preview in services.previews.changed(since: previewVersion) {
                    previewVersion = preview.version
                    events.append(ServerSentEvent.preview(preview))
                }
                let buffer = ByteBuffer(string: events.map(\.encoded).joined())
                services.metrics.sent(bytes: buffer.readableBytes, kind: "stream")
                try await writer.write(buffer)
                try await Task.sleep(for: .seconds(Self.streamInterval))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"],
                        body: body)
    }

    private func jobID(_ context: BasicRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "the job id must be a positive integer", field: "id")
        }
        return id
    }
}
