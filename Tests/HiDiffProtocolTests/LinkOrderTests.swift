import HiDiffProtocol
import XCTest

/// Out-of-order messages close the link with a goodbye and an `unexpected` reason; the closed link is inert.
final class LinkOrderTests: XCTestCase {
    private func coordinator() -> CoordinatorLink {
        CoordinatorLink(coordinatorName: "coord", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6, now: 0,
                        nonce: Fixtures.nonceB)
    }

    private func registeredPair() -> LinkHarness {
        var h = LinkHarness()
        h.handshake()
        XCTAssertTrue(h.coordinator.isRegistered)
        return h
    }

    private func assertClosedUnexpected(_ actions: [CoordinatorLink.Action], _ link: CoordinatorLink,
                                        message: String, state: String, line: UInt = #line) {
        let reason = ProtocolError.unexpected(message: message, state: state).description
        XCTAssertEqual(actions, [.send(.goodbye(reason: reason)), .close(reason: reason)], line: line)
        XCTAssertEqual(link.failure, .unexpected(message: message, state: state), line: line)
        XCTAssertTrue(link.isClosed, line: line)
    }

    private func assertClosedUnexpected(_ actions: [WorkerLink.Action], _ link: WorkerLink,
                                        message: String, state: String, line: UInt = #line) {
        let reason = ProtocolError.unexpected(message: message, state: state).description
        XCTAssertEqual(actions, [.send(.goodbye(reason: reason)), .close(reason: reason)], line: line)
        XCTAssertEqual(link.failure, .unexpected(message: message, state: state), line: line)
        XCTAssertTrue(link.isClosed, line: line)
    }

    func testRegisterBeforeHello() {
        var c = coordinator()
        assertClosedUnexpected(c.received(.register(Fixtures.info), now: 0), c, message: "register",
                               state: "awaiting hello")
    }

    func testRegisterBeforeProof() {
        var c = coordinator()
        _ = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0)
        assertClosedUnexpected(c.received(.register(Fixtures.info), now: 0), c, message: "register",
                               state: "awaiting proof")
        XCTAssertFalse(c.isRegistered)
    }

    func testProofBeforeHello() {
        var c = coordinator()
        assertClosedUnexpected(c.received(.proof(proof: Fixtures.nonceA), now: 0), c, message: "proof",
                               state: "awaiting hello")
    }

    func testSecondHello() {
        var c = coordinator()
        _ = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0)
        assertClosedUnexpected(c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0), c,
                               message: "hello", state: "awaiting proof")
        var h = registeredPair()
        assertClosedUnexpected(h.coordinator.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0),
                               h.coordinator, message: "hello", state: "registered")
    }

    func testAssignSentToTheCoordinator() {
        var h = registeredPair()
        let a = Assignment(jobID: 1, attempt: 1, model: "m", requestJSON: "{}")
        assertClosedUnexpected(h.coordinator.received(.assign(a), now: 0), h.coordinator, message: "assign",
                               state: "registered")
    }

    func testSecondRegisterAndResultBeforeRegistration() {
        var h = registeredPair()
        assertClosedUnexpected(h.coordinator.received(.register(Fixtures.info), now: 0), h.coordinator,
                               message: "register", state: "registered")
        var c = coordinator()
        assertClosedUnexpected(c.received(.result(jobID: 1, attempt: 1, png: [], latents: .empty, metadataJSON: ""),
                                          now: 0), c, message: "result", state: "awaiting hello")
    }

    func testClosedCoordinatorIsInert() {
        var c = coordinator()
        _ = c.received(.drain, now: 0)
        XCTAssertTrue(c.isClosed)
        XCTAssertEqual(c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0), [])
        XCTAssertEqual(c.tick(now: 1000), [])
        XCTAssertEqual(c.send(.drain), [])
        XCTAssertEqual(c.close(reason: "again"), [])
    }

    func testWorkerRefusesOutOfOrderMessages() {
        var w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        assertClosedUnexpected(w.received(.challenge(nonce: Fixtures.nonceB, proof: Fixtures.nonceA), now: 0), w,
                               message: "challenge", state: "not started")

        w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        _ = w.start()
        assertClosedUnexpected(w.received(.welcome(coordinator: "c", heartbeatSeconds: 2), now: 0), w,
                               message: "welcome", state: "awaiting challenge")

        w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        _ = w.start()
        assertClosedUnexpected(w.received(.assign(Assignment(jobID: 1, attempt: 1, model: "m", requestJSON: "")),
                                          now: 0), w, message: "assign", state: "awaiting challenge")

        var h = registeredPair()
        assertClosedUnexpected(h.worker.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "c", nonce: Fixtures.nonceB), now: 0),
                               h.worker, message: "hello", state: "authenticated")
        h = registeredPair()
        assertClosedUnexpected(h.worker.received(.challenge(nonce: Fixtures.nonceB, proof: Fixtures.nonceA), now: 0),
                               h.worker, message: "challenge", state: "authenticated")
        h = registeredPair()
        assertClosedUnexpected(h.worker.received(.progress(jobID: 1, attempt: 1, step: 1, steps: 2), now: 0),
                               h.worker, message: "progress", state: "authenticated")
    }

    func testGoodbyeClosesWithoutAnswering() {
        var h = registeredPair()
        XCTAssertEqual(h.coordinator.received(.goodbye(reason: "draining done"), now: 1),
                       [.close(reason: "worker said goodbye: draining done")])
        XCTAssertNil(h.coordinator.failure)
        XCTAssertEqual(h.worker.received(.goodbye(reason: "shutdown"), now: 1),
                       [.close(reason: "coordinator said goodbye: shutdown")])
        XCTAssertTrue(h.worker.isClosed)
    }

    func testApplicationSendIsGatedByStateAndDirection() {
        var c = coordinator()
        XCTAssertEqual(c.send(.drain), [], "not registered yet")
        var w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        XCTAssertEqual(w.send(.register(Fixtures.info)), [], "not authenticated yet")

        var h = registeredPair()
        XCTAssertEqual(h.coordinator.send(.cancel(jobID: 1, attempt: 2)), [.send(.cancel(jobID: 1, attempt: 2))])
        XCTAssertEqual(h.coordinator.send(.drain), [.send(.drain)])
        XCTAssertEqual(h.coordinator.send(.progress(jobID: 1, attempt: 1, step: 1, steps: 1)), [], "wrong direction")
        XCTAssertEqual(h.coordinator.send(.welcome(coordinator: "x", heartbeatSeconds: 1)), [], "handshake is internal")
        XCTAssertEqual(h.worker.send(.progress(jobID: 1, attempt: 1, step: 1, steps: 1)),
                       [.send(.progress(jobID: 1, attempt: 1, step: 1, steps: 1))])
        XCTAssertEqual(h.worker.send(.drain), [], "wrong direction")
        XCTAssertEqual(h.coordinator.send(.goodbye(reason: "bye")), [.send(.goodbye(reason: "bye")), .close(reason: "bye")])
        XCTAssertEqual(h.coordinator.send(.drain), [], "closed")
        XCTAssertEqual(h.worker.close(reason: "leaving"), [.send(.goodbye(reason: "leaving")), .close(reason: "leaving")])
        XCTAssertEqual(h.worker.send(.progress(jobID: 1, attempt: 1, step: 1, steps: 1)), [], "closed")
    }
}
