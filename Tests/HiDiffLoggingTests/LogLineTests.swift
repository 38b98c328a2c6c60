import Foundation
import HiDiffLogging
import Logging
import Synchronization
import XCTest

/// One event, one line, metadata as fields, in both formats.
final class LogLineTests: XCTestCase {
    let event = LogLine(timestamp: Date(timeIntervalSince1970: 1_700_000_000.25), level: .warning, label: "hidiff.coordinator",
                        message: "job attempt failed:\nline two", source: "HiDiffCoordinator",
                        metadata: ["job": "12", "attempt": "2", "worker": "worker-1", "error": "a \"quoted\" = thing"])

    func testTextIsOneLineWithSortedFields() {
        let line = event.formatted(.text)
        XCTAssertFalse(line.contains("\n"))
        XCTAssertTrue(line.contains(" warning hidiff.coordinator : attempt=2 error=\"a \\\"quoted\\\" = thing\" job=12 worker=worker-1 [HiDiffCoordinator] job attempt failed:\\nline two"), line)
    }

    func testJSONParsesBackToTheEvent() throws {
        let line = event.formatted(.json)
        XCTAssertFalse(line.contains("\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["ts"], "2023-11-14T22:13:20.250Z")
        XCTAssertEqual(object["level"], "warning")
        XCTAssertEqual(object["logger"], "hidiff.coordinator")
        XCTAssertEqual(object["msg"], "job attempt failed:\nline two")
        XCTAssertEqual(object["job"], "12")
        XCTAssertEqual(object["attempt"], "2")
        XCTAssertEqual(object["worker"], "worker-1")
        XCTAssertEqual(object["error"], "a \"quoted\" = thing")
        XCTAssertTrue(line.hasPrefix(#"{"ts":"#), line)
    }

    func testMetadataCannotOverwriteTheFixedFields() throws {
        let line = LogLine(timestamp: Date(), level: .info, label: "l", message: "m", source: "s",
                           metadata: ["msg": "spoof", "level": "critical", "tab": "a\tb\u{1}"]).formatted(.json)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["msg"], "m")
        XCTAssertEqual(object["meta_msg"], "spoof")
        XCTAssertEqual(object["level"], "info")
        XCTAssertEqual(object["meta_level"], "critical")
        XCTAssertEqual(object["tab"], "a\tb\u{1}")
    }

    func testTheHandlerFiltersByLevelAndMergesMetadata() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "hidiff.worker") { label in
            LineLogHandler(label: label, format: .json, level: .info) { line in lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "worker"] = "worker-3"
        logger.debug("step", metadata: ["step": "4/20"])
        logger.info("running job", metadata: ["job": "7", "attempt": "1"])
        logger.error("failed", error: CancellationError())
        let captured = lines.withLock { $0 }
        XCTAssertEqual(captured.count, 2, "debug is filtered at info: \(captured)")
        XCTAssertTrue(captured[0].contains(#""msg":"running job","source":"HiDiffLoggingTests","attempt":"1","job":"7","worker":"worker-3"}"#), captured[0])
        XCTAssertTrue(captured[1].contains(#""error":"CancellationError()""#), captured[1])
    }
}
