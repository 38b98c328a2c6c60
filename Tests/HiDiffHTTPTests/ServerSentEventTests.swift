import HiDiffHTTP
import HiDiffStore
import XCTest

/// The event-stream encoding and the live previews the stream sends, without a server.
final class ServerSentEventTests: XCTestCase {
    func testEncodingFollowsTheEventStreamFormat() {
        XCTAssertEqual(ServerSentEvent(event: "status", id: "7", data: #"{"a":1}"#).encoded,
                       "event: status\nid: 7\ndata: {\"a\":1}\n\n")
        XCTAssertEqual(ServerSentEvent(data: "x").encoded, "data: x\n\n")
        // Every line of the data gets its own data: field (LF, CR and CRLF alike); an empty line stays.
        XCTAssertEqual(ServerSentEvent(data: "one\ntwo\r\nthree\rfour\n").encoded,
                       "data: one\ndata: two\ndata: three\ndata: four\ndata: \n\n")
        XCTAssertEqual(ServerSentEvent(data: "").encoded, "data: \n\n")
        // A newline in the name or id cannot start a field of its own.
        XCTAssertEqual(ServerSentEvent(event: "a\nid: 9", id: "1\r\n2", data: "d").encoded, "event: a id: 9\nid: 1 2\ndata: d\n\n")
        XCTAssertEqual(ServerSentEvent.comment("keep\nalive"), ": keep alive\n\n")
    }

    /// Splitting the encoded stream as a browser does (blank line between events, `data:` lines joined by LF)
    /// gives back what was sent.
    func testABrowserReadsBackWhatWasSent() {
        let sent = [ServerSentEvent(event: "status", id: "1", data: "{\n\"jobs\": []\n}"), ServerSentEvent(event: "preview", data: "p")]
        let stream = sent.map(\.encoded).joined()
        let blocks = stream.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(blocks.count, 2)
        let parsed = blocks.map { block -> (String?, String) in
            let lines = block.components(separatedBy: "\n")
            let name = lines.first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            let data = lines.filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }.joined(separator: "\n")
            return (name, data)
        }
        XCTAssertEqual(parsed.map(\.0), ["status", "preview"])
        XCTAssertEqual(parsed.map(\.1), ["{\n\"jobs\": []\n}", "p"])
    }

    func testPreviewEventCarriesThePNGInBase64() throws {
        let previews = LivePreviews()
        previews.record(jobID: 3, attempt: 1, step: 4, steps: 20, png: [0x89, 0x50, 0x4E, 0x47])
        let event = ServerSentEvent.preview(try XCTUnwrap(previews.latest(jobID: 3)))
        XCTAssertEqual(event.event, "preview")
        XCTAssertEqual(event.data, #"{"attempt":1,"job":3,"png":"iVBORw==","step":4,"steps":20}"#)
    }

    func testLivePreviewsKeepTheLatestPerJobWithinCapacity() {
        let previews = LivePreviews(capacity: 2)
        XCTAssertTrue(previews.record(jobID: 1, attempt: 1, step: 2, steps: 10, png: [1]))
        XCTAssertTrue(previews.record(jobID: 1, attempt: 1, step: 4, steps: 10, png: [2]))
        XCTAssertFalse(previews.record(jobID: 1, attempt: 1, step: 3, steps: 10, png: [3]), "a late frame does not go back")
        XCTAssertEqual(previews.latest(jobID: 1)?.png, [2])
        XCTAssertTrue(previews.record(jobID: 1, attempt: 2, step: 1, steps: 10, png: [4]), "a new attempt starts over")
        XCTAssertEqual(previews.latest(jobID: 1)?.step, 1)
        let mark = previews.version
        previews.record(jobID: 2, attempt: 1, step: 1, steps: 5, png: [5])
        previews.record(jobID: 3, attempt: 1, step: 1, steps: 5, png: [6])
        XCTAssertNil(previews.latest(jobID: 1), "over capacity the oldest goes")
        XCTAssertEqual(previews.changed(since: mark).map(\.jobID), [2, 3])
        XCTAssertEqual(previews.changed(since: previews.version).count, 0)
        previews.remove(jobID: 2)
        XCTAssertNil(previews.latest(jobID: 2))
        XCTAssertEqual(previews.changed(since: 0).map(\.jobID), [3])
    }

    func testStatusPageAssetsAreSelfContained() {
        // Nothing from another origin: no URL with a scheme, no protocol-relative one.
        for (name, text) in [("html", StatusPageAssets.html), ("style", StatusPageAssets.style), ("script", StatusPageAssets.script)] {
            XCTAssertFalse(text.contains("http://") || text.contains("https://") || text.contains("src=\"//"), name)
        }
        XCTAssertTrue(StatusPageAssets.html.contains(#"<script src="/ui/app.js" defer></script>"#))
        XCTAssertTrue(StatusPageAssets.script.contains("new EventSource('/api/v1/stream')"))
        XCTAssertFalse(StatusPageAssets.script.contains("innerHTML"), "job text goes into textContent only")
    }
}
