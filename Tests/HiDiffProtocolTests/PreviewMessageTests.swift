import HiDiffProtocol
import NIOCore
import XCTest

/// The `preview` message: its bounds on both sides of the wire, and who may send it.
final class PreviewMessageTests: XCTestCase {
    private func previewFrame(step: Int32, steps: Int32, png: [UInt8]) -> [UInt8] {
        var p = PayloadBuilder()
        p.i64(4)
        p.i32(1)
        p.i32(step)
        p.i32(steps)
        p.blob(png)
        return Fixtures.rawFrame(type: MessageType.preview.rawValue, payload: p.bytes)
    }

    func testTypeNumberIsStable() {
        XCTAssertEqual(MessageType.preview.rawValue, 22)
    }

    func testLargestPreviewPassesAndOneByteMoreIsRefused() throws {
        let largest = [UInt8](repeating: 7, count: Message.maxPreviewBytes)
        let m = Message.preview(jobID: 4, attempt: 1, step: 5, steps: 25, png: largest)
        var buffer = ByteBuffer()
        try FrameCodec.encodeChecked(m, into: &buffer)
        XCTAssertEqual(try FrameCodec.decode(from: &buffer), m)

        let over = Message.preview(jobID: 4, attempt: 1, step: 5, steps: 25, png: largest + [0])
        var refused = ByteBuffer()
        XCTAssertThrowsError(try FrameCodec.encodeChecked(over, into: &refused))
        XCTAssertEqual(refused.readableBytes, 0)
        // A hand-made frame with the same payload fails on the receiving side too.
        XCTAssertEqual(Fixtures.decodeError(previewFrame(step: 5, steps: 25, png: largest + [0])),
                       .invalidField(name: "preview.png", reason: "\(Message.maxPreviewBytes + 1) bytes exceeds \(Message.maxPreviewBytes)"))
    }

    func testStepBeyondStepsIsRefused() {
        XCTAssertEqual(Fixtures.decodeError(previewFrame(step: 26, steps: 25, png: [1])),
                       .invalidField(name: "preview.step", reason: "step 26 of 25"))
        XCTAssertEqual(Fixtures.decodeError(previewFrame(step: -1, steps: 25, png: [1])),
                       .invalidField(name: "preview.step", reason: "step -1 of 25"))
    }

    func testOnlyARegisteredWorkerSendsIt() {
        let m = Message.preview(jobID: 4, attempt: 1, step: 5, steps: 25, png: [1, 2])
        var worker = WorkerLink(workerName: "w", token: Array(repeating: 1, count: 32), now: 0, nonce: Array(repeating: 2, count: 32))
        XCTAssertEqual(worker.send(m), [], "nothing leaves before the handshake")
        var coordinator = CoordinatorLink(coordinatorName: "c", token: Array(repeating: 1, count: 32), heartbeatSeconds: 2,
                                          deadAfter: 6, now: 0, nonce: Array(repeating: 3, count: 32))
        // Before registration it is a protocol violation that closes the link.
        let actions = coordinator.received(m, now: 0)
        XCTAssertTrue(coordinator.isClosed)
        XCTAssertEqual(actions.count, 2)
    }
}
