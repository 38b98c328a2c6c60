import HiDiffProtocol
import XCTest

/// Handshake timeouts, heartbeats and dead-link detection, all through `tick(now:)` with injected times.
final class LinkTimingTests: XCTestCase {
    private func isTimeoutClose<A>(_ actions: [A], _ failure: ProtocolError?) -> Bool {
        guard actions.count == 2, case .timeout? = failure?.kind else { return false }
        return true
    }

    func testCoordinatorHandshakeTimeout() {
        var c = CoordinatorLink(coordinatorName: "c", token: Fixtures.token, heartbeatSeconds: 2, deadAfter: 6,
                                now: 100, nonce: Fixtures.nonceB)
        XCTAssertEqual(c.handshakeTimeout, 10)
        XCTAssertEqual(c.tick(now: 105), [])
        _ = c.received(.hello(version: UInt16(FrameCodec.protocolVersion), name: "w1", nonce: Fixtures.nonceA), now: 106)  // progress does not reset it
        XCTAssertEqual(c.tick(now: 109.9), [])
        let actions = c.tick(now: 110)
        XCTAssertTrue(isTimeoutClose(actions, c.failure), "\(actions)")
        guard case .close(let reason)? = actions.last else { return XCTFail() }
        XCTAssertTrue(reason.contains("handshake") && reason.contains("awaiting proof"), reason)
        XCTAssertEqual(c.tick(now: 200), [])
    }

    func testCoordinatorWaitsForRegisterWithinTheHandshakeTimeout() {
        var h = LinkHarness(now: 0)
        h.applyWorker(h.worker.start())
        h.pump(now: 1)
        XCTAssertTrue(h.worker.isAuthenticated)
        XCTAssertFalse(h.coordinator.isRegistered)
        // An early worker heartbeat is tolerated but does not count as registering.
        XCTAssertEqual(h.coordinator.received(.heartbeat(state: .idle), now: 5), [])
        XCTAssertTrue(isTimeoutClose(h.coordinator.tick(now: 10), h.coordinator.failure))
    }

    func testWorkerHandshakeTimeout() {
        var w = WorkerLink(workerName: "w1", token: Fixtures.token, now: 0, nonce: Fixtures.nonceA,
                           handshakeTimeout: 5)
        _ = w.start()
        XCTAssertEqual(w.tick(now: 4.99), [])
        XCTAssertTrue(isTimeoutClose(w.tick(now: 5), w.failure))
        XCTAssertTrue(w.isClosed)
    }

    func testCoordinatorHeartbeatsAtTheIntervalAndDetectsADeadLink() {
        var h = LinkHarness(heartbeatSeconds: 2, deadAfter: 6, now: 0)
        h.handshake(now: 10)
        var sentAt: [Double] = []
        var now = 10.0
        var closedAt: Double?
        while now <= 30, closedAt == nil {
            for a in h.coordinator.tick(now: now) {
                if a == .send(.heartbeat(state: nil)) { sentAt.append(now) }
                if case .close = a { closedAt = now }
            }
            now += 0.5
        }
        // Heartbeats at 12 and 14; the worker stays silent, so the link dies 6 s after it was last heard (10).
        XCTAssertEqual(sentAt, [12, 14])
        XCTAssertEqual(closedAt, 16)
        XCTAssertTrue(h.coordinator.isClosed)
        if case .timeout? = h.coordinator.failure?.kind {} else { XCTFail("\(String(describing: h.coordinator.failure))") }
    }

    func testAnyWorkerMessageKeepsTheLinkAlive() {
        var h = LinkHarness(heartbeatSeconds: 2, deadAfter: 6, now: 0)
        h.handshake(now: 0)
        var beats = 0
        for step in 1...80 {  // 40 s in half-second ticks, the worker heard from every 5 s
            let now = Double(step) * 0.5
            if step % 10 == 0 {
                XCTAssertEqual(h.coordinator.received(.heartbeat(state: .idle), now: now), [.deliver(.heartbeat(state: .idle))])
            }
            for a in h.coordinator.tick(now: now) {
                XCTAssertEqual(a, .send(.heartbeat(state: nil)))
                beats += 1
            }
        }
        XCTAssertFalse(h.coordinator.isClosed)
        XCTAssertEqual(beats, 20)
    }

    func testWorkerHeartbeatsCarryItsStateAndItDetectsADeadCoordinator() {
        var h = LinkHarness(heartbeatSeconds: 1, deadAfter: 100, now: 0)
        h.handshake(now: 0)
        let busy = WorkerLinkState(busyJobID: 9, attempt: 2, step: 4, stepsPerSecond: 0.5, draining: false)
        XCTAssertEqual(h.worker.tick(now: 0.5), [])
        XCTAssertEqual(h.worker.tick(now: 1), [.send(.heartbeat(state: .idle))])
        XCTAssertEqual(h.worker.tick(now: 1.5), [])
        h.worker.heartbeatState = busy
        XCTAssertEqual(h.worker.tick(now: 2), [.send(.heartbeat(state: busy))])
        XCTAssertEqual(h.worker.received(.heartbeat(state: nil), now: 2.5), [.deliver(.heartbeat(state: nil))])
        XCTAssertEqual(h.worker.tick(now: 5.4), [.send(.heartbeat(state: busy))])
        // Three silent intervals after the last coordinator message (2.5) the worker gives up.
        XCTAssertTrue(isTimeoutClose(h.worker.tick(now: 5.5), h.worker.failure))
    }

    func testHeartbeatsCrossBetweenLinkedMachinesAndKeepBothAlive() {
        var h = LinkHarness(heartbeatSeconds: 2, deadAfter: 6, now: 0)
        h.handshake(now: 0)
        for step in 1...200 {  // 100 s
            let now = Double(step) * 0.5
            h.applyCoordinator(h.coordinator.tick(now: now))
            h.applyWorker(h.worker.tick(now: now))
            h.pump(now: now)
        }
        XCTAssertFalse(h.coordinatorClosed || h.workerClosed)
        let beats = h.transcript.filter { $0 == .heartbeat }.count
        XCTAssertEqual(beats, 100)  // 50 each way
        XCTAssertEqual(h.coordinatorEvents.filter { if case .deliver(.heartbeat) = $0 { return true }; return false }.count, 50)
    }
}
