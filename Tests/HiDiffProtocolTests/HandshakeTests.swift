import HiDiffProtocol
import XCTest

final class HandshakeTests: XCTestCase {
    func testHappyPathThroughBothStateMachines() {
        var h = LinkHarness()
        XCTAssertFalse(h.coordinator.isRegistered)
        h.handshake(now: 1)
        XCTAssertEqual(h.transcript, [.hello, .challenge, .proof, .welcome, .register])
        XCTAssertEqual(h.workerEvents, [.authenticated(coordinator: "coord", heartbeatSeconds: 2)])
        XCTAssertEqual(h.coordinatorEvents, [.registered(Fixtures.info)])
        XCTAssertTrue(h.coordinator.isRegistered)
        XCTAssertTrue(h.worker.isAuthenticated)
        XCTAssertEqual(h.coordinator.worker, Fixtures.info)
        XCTAssertEqual(h.worker.coordinator?.name, "coord")
        XCTAssertFalse(h.coordinatorClosed || h.workerClosed)

        // Live: app messages flow both ways as deliveries.
        let assignment = Assignment(jobID: 5, attempt: 1, model: "sd15", requestJSON: "{}")
        h.applyCoordinator(h.coordinator.send(.assign(assignment)))
        h.pump(now: 2)
        XCTAssertEqual(h.workerEvents.last, .deliver(.assign(assignment)))
        h.applyWorker(h.worker.send(.accepted(jobID: 5, attempt: 1)))
        h.pump(now: 2)
        XCTAssertEqual(h.coordinatorEvents.last, .deliver(.accepted(jobID: 5, attempt: 1)))
    }

    func testTheTokenNeverCrossesTheWire() {
        var h = LinkHarness()
        h.handshake()
        XCTAssertEqual(h.wire.count, 5)
        let token = Fixtures.token
        for frame in h.wire {
            let found = frame.count >= token.count
                && (0...(frame.count - token.count)).contains { Array(frame[$0..<$0 + token.count]) == token }
            XCTAssertFalse(found, "token bytes found in a frame")
        }
    }

    func testWrongTokenOnTheWorkerSideClosesTheWorkerBeforeItProvesAnything() {
        var h = LinkHarness(workerToken: Array("a different token, same length".utf8))
        h.handshake()
        // The worker checks first (the coordinator's proof) and refuses: no proof, no welcome, no register.
        XCTAssertEqual(h.transcript, [.hello, .challenge, .goodbye])
        XCTAssertEqual(h.worker.failure, .authenticationFailed)
        XCTAssertEqual(h.workerEvents, [.close(reason: ProtocolError.authenticationFailed.description)])
        XCTAssertFalse(h.worker.isAuthenticated)
        XCTAssertFalse(h.coordinator.isRegistered)
        // The coordinator sees the goodbye and closes too, without a welcome.
        XCTAssertTrue(h.coordinatorClosed)
        XCTAssertNil(h.coordinator.failure)
    }

    func testWrongTokenOnTheCoordinatorSideClosesWithoutWelcome() {
        // A client that answers the challenge with a proof made from the wrong token (skipping its own check).
        var c = CoordinatorLink(coordinatorName: "coord", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6,
                                now: 0, nonce: Fixtures.nonceB)
        let challenge = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0)
        guard case .send(.challenge(let nonceC, _))? = challenge.first else { return XCTFail("\(challenge)") }
        let forged = TokenAuth.proof(token: Array("wrong token wrong token".utf8), role: "worker", name: "w1",
                                     workerNonce: Fixtures.nonceA, coordinatorNonce: nonceC)
        let reason = ProtocolError.authenticationFailed.description
        XCTAssertEqual(c.received(.proof(proof: forged), now: 1), [.send(.goodbye(reason: reason)), .close(reason: reason)])
        XCTAssertEqual(c.failure, .authenticationFailed)
        XCTAssertFalse(c.isRegistered)
        XCTAssertTrue(c.isClosed)
        XCTAssertEqual(c.received(.register(Fixtures.info), now: 1), [])
    }

    func testReflectingTheCoordinatorsOwnProofFails() {
        var c = CoordinatorLink(coordinatorName: "coord", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6,
                                now: 0, nonce: Fixtures.nonceB)
        guard case .send(.challenge(_, let proofC))? = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA),
                                                                    now: 0).first else { return XCTFail() }
        XCTAssertEqual(c.received(.proof(proof: proofC), now: 0).last,
                       .close(reason: ProtocolError.authenticationFailed.description))
    }

    func testAProofForAnotherNameFails() {
        var c = CoordinatorLink(coordinatorName: "coord", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6,
                                now: 0, nonce: Fixtures.nonceB)
        _ = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 0)
        let other = TokenAuth.proof(token: Fixtures.token, role: "worker", name: "w2", workerNonce: Fixtures.nonceA,
                                    coordinatorNonce: Fixtures.nonceB)
        _ = c.received(.proof(proof: other), now: 0)
        XCTAssertEqual(c.failure, .authenticationFailed)
    }

    func testRegisterUnderAnotherNameThanTheHelloIsRefused() {
        var h = LinkHarness()
        h.applyWorker(h.worker.start())
        h.pump(now: 0)
        var info = Fixtures.info
        info.name = "someone-else"
        h.applyWorker(h.worker.send(.register(info)))
        h.pump(now: 0)
        XCTAssertTrue(h.coordinatorClosed)
        XCTAssertEqual(h.coordinator.failure?.kind,
                       .invalidField(name: "register.name", reason: "someone-else differs from hello name w1"))
    }

    func testUnsupportedHelloVersionIsRefused() {
        var c = CoordinatorLink(coordinatorName: "c", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6, now: 0,
                                nonce: Fixtures.nonceB)
        // Version 1: a worker from before previews (type 22) is refused at the hello, not in the middle of a job.
        XCTAssertEqual(c.received(.hello(version: 1, name: "w", nonce: Fixtures.nonceA), now: 0).count, 2)
        XCTAssertTrue(c.isClosed)
        if case .invalidField(let name, _)? = c.failure?.kind { XCTAssertEqual(name, "hello.version") } else { XCTFail() }
    }

    func testWelcomeWithAnUnusableHeartbeatIsRefused() {
        var w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        _ = w.start()
        let proofC = TokenAuth.proof(token: Fixtures.token, role: "coordinator", name: "w1",
                                     workerNonce: Fixtures.nonceA, coordinatorNonce: Fixtures.nonceB)
        guard case .send(.proof)? = w.received(.challenge(nonce: Fixtures.nonceB, proof: proofC), now: 0).first else {
            return XCTFail("a valid challenge must be answered with a proof")
        }
        XCTAssertEqual(w.received(.welcome(coordinator: "c", heartbeatSeconds: 0), now: 0).count, 2)
        XCTAssertTrue(w.isClosed)
        XCTAssertFalse(w.isAuthenticated)
    }

    func testStartOnlyOnceAndBadOwnNonce() {
        var w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA)
        XCTAssertEqual(w.start(), [.send(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA))])
        XCTAssertEqual(w.start(), [])
        var bad = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: [1, 2, 3])
        XCTAssertEqual(bad.start().count, 2)
        XCTAssertTrue(bad.isClosed)
    }
}
