import HiDiffCoordinator
import HiDiffProtocol
import HiDiffStore
import XCTest

/// The coordinator's lease and assignment logic, event by event, with no socket and no database.
final class DispatcherTests: XCTestCase {
    let w1 = ConnectionID(1), w2 = ConnectionID(2)

    func info(_ name: String, models: [String] = ["shapes"]) -> WorkerInfo {
        WorkerInfo(name: name, address: "host", cores: 2, memoryBytes: 1 << 30, version: "test", kernels: "k",
                   models: models.map { ModelInfo(name: $0, family: "sd", nativeSize: 64) })
    }

    func job(_ id: Int64, attempt: Int = 1, checkpointStep: Int? = nil) -> ClaimedJob {
        ClaimedJob(lease: Lease(jobID: id, attempt: attempt, owner: "c1"), model: "shapes", requestJSON: "{}",
                   steps: 10, initImage: nil,
                   checkpoint: checkpointStep.map { Checkpoint(jobID: id, attempt: attempt - 1, step: $0, state: [1, 2, 3]) },
                   maxAttempts: 3)
    }

    /// A dispatcher with worker w1 registered and running job 7 (attempt 1).
    func running() -> Dispatcher {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        _ = d.handle(.registered(w1, info("w1")), now: 0)
        _ = d.handle(.claimed(w1, [job(7)]), now: 0)
        return d
    }

    func sends(_ actions: [DispatcherAction]) -> [(ConnectionID, Message)] {
        actions.compactMap { if case let .send(id, m) = $0 { (id, m) } else { nil } }
    }

    func testRegisteredWorkerIsRecordedAndClaimsForItsModels() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        let actions = d.handle(.registered(w1, info("w1", models: ["a", "b"])), now: 0)
        XCTAssertEqual(actions.count, 2)
        guard case .registerWorker(let i) = actions[0], case let .claim(id, worker, models, capacity) = actions[1] else {
            return XCTFail("\(actions)")
        }
        XCTAssertEqual(i.name, "w1")
        XCTAssertEqual(id, w1)
        XCTAssertEqual(worker, "w1")
        XCTAssertEqual(models, ["a", "b"])
        XCTAssertEqual(capacity, ["a": 1, "b": 1], "no peer address: whole jobs only")
        // No second claim while one is in flight.
        XCTAssertTrue(d.handle(.wake, now: 1).isEmpty)
    }

    func testClaimedJobIsAssignedWithItsCheckpoint() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 4, now: 0)
        _ = d.handle(.registered(w1, info("w1")), now: 0)
        let out = sends(d.handle(.claimed(w1, [job(7, attempt: 2, checkpointStep: 6)]), now: 0))
        XCTAssertEqual(out.count, 1)
        guard case let .assign(a) = out[0].1 else { return XCTFail("\(out)") }
        XCTAssertEqual(a.jobID, 7)
        XCTAssertEqual(a.attempt, 2)
        XCTAssertEqual(a.checkpoint, [1, 2, 3])
        XCTAssertEqual(a.checkpointStep, 6)
        XCTAssertEqual(a.checkpointEvery, 4)
        XCTAssertEqual(d.leases, [Lease(jobID: 7, attempt: 2, owner: "c1")])
    }

    func testEmptyClaimLeavesWorkerIdleUntilWoken() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        _ = d.handle(.registered(w1, info("w1")), now: 0)
        XCTAssertTrue(d.handle(.claimed(w1, []), now: 0).isEmpty)
        let again = d.handle(.wake, now: 1)
        guard case .claim(w1, _, _, _)? = again.first else { return XCTFail("\(again)") }
    }

    func testMessagesForAnotherAttemptAreDropped() {
        var d = running()
        let stale = d.handle(.message(w1, .progress(jobID: 7, attempt: 0, step: 3, steps: 10)), now: 1)
        XCTAssertEqual(stale.count, 1)
        guard case .log = stale[0] else { return XCTFail("\(stale)") }
        XCTAssertTrue(d.handle(.message(w1, .result(jobID: 8, attempt: 1, png: [], latents: WireTensor(shape: [1], data: [0]), metadataJSON: "")), now: 1)
            .allSatisfy { if case .log = $0 { true } else { false } })
        let good = d.handle(.message(w1, .progress(jobID: 7, attempt: 1, step: 3, steps: 10)), now: 1)
        guard case let .progress(lease, step, total)? = good.first else { return XCTFail("\(good)") }
        XCTAssertEqual(lease.jobID, 7)
        XCTAssertEqual(step, 3)
        XCTAssertEqual(total, 10)
    }

    func testResultCompletesAndClaimsAgain() {
        var d = running()
        let actions = d.handle(.message(w1, .result(jobID: 7, attempt: 1, png: [9], latents: WireTensor(shape: [1], data: [1]), metadataJSON: "{}")), now: 2)
        guard case let .complete(lease, png, _, _) = actions[0] else { return XCTFail("\(actions)") }
        XCTAssertEqual(lease.jobID, 7)
        XCTAssertEqual(png, [9])
        XCTAssertTrue(actions.contains { if case .claim(w1, _, _, _) = $0 { true } else { false } })
        XCTAssertTrue(d.leases.isEmpty)
    }

    func testFailureKeepsRetryability() {
        var d = running()
        let actions = d.handle(.message(w1, .failed(jobID: 7, attempt: 1, message: "boom", retryable: false)), now: 2)
        guard case let .fail(_, error, retryable) = actions[0] else { return XCTFail("\(actions)") }
        XCTAssertEqual(error, "boom")
        XCTAssertFalse(retryable)
    }

    func testCancelIsSentOnceAndTheStopIsRecordedAsCancelled() {
        var d = running()
        let lease = Lease(jobID: 7, attempt: 1, owner: "c1")
        XCTAssertEqual(sends(d.handle(.cancelRequested([lease]), now: 1)).count, 1)
        XCTAssertTrue(d.handle(.cancelRequested([lease]), now: 2).isEmpty)
        let actions = d.handle(.message(w1, .failed(jobID: 7, attempt: 1, message: "stopped", retryable: true)), now: 3)
        guard case .cancelled(lease) = actions[0] else { return XCTFail("\(actions)") }
    }

    func testLostWorkerReleasesItsJob() {
        var d = running()
        let actions = d.handle(.disconnected(w1, reason: "reset"), now: 1)
        XCTAssertTrue(actions.contains { if case .workerOffline("w1") = $0 { true } else { false } })
        XCTAssertTrue(actions.contains { if case let .release(l, _) = $0 { l.jobID == 7 } else { false } })
        XCTAssertTrue(d.leases.isEmpty)
        XCTAssertTrue(d.handle(.disconnected(w1, reason: "again"), now: 2).isEmpty)
    }

    func testClaimAnsweredAfterTheWorkerLeftIsReleased() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        _ = d.handle(.registered(w1, info("w1")), now: 0)
        _ = d.handle(.disconnected(w1, reason: "gone"), now: 0)
        let actions = d.handle(.claimed(w1, [job(5)]), now: 1)
        guard case let .release(lease, _)? = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(lease.jobID, 5)
    }

    func testLostLeaseStopsTheWorkerAndIgnoresItsResult() {
        var d = running()
        let lease = Lease(jobID: 7, attempt: 1, owner: "c1")
        let out = sends(d.handle(.leaseLost(lease), now: 1))
        guard case .cancel(7, 1)? = out.first?.1 else { return XCTFail("\(out)") }
        let after = d.handle(.message(w1, .result(jobID: 7, attempt: 1, png: [], latents: WireTensor(shape: [1], data: [0]), metadataJSON: "")), now: 2)
        XCTAssertFalse(after.contains { if case .complete = $0 { true } else { false } })
        XCTAssertTrue(after.contains { if case .claim(w1, _, _, _) = $0 { true } else { false } })
    }

    func testLeasesRenewedEveryThirdOfTheirLength() {
        var d = running()
        XCTAssertFalse(d.handle(.tick, now: 5).contains { if case .renew = $0 { true } else { false } })
        let renewed = d.handle(.tick, now: 10.5)
        XCTAssertTrue(renewed.contains { if case let .renew(l) = $0 { l.map(\.jobID) == [7] } else { false } })
        XCTAssertFalse(d.handle(.tick, now: 11).contains { if case .renew = $0 { true } else { false } })
    }

    func testDrainedWorkerGetsNoNewJob() {
        var d = running()
        let out = sends(d.handle(.drainRequested(["w1"]), now: 1))
        guard case .drain? = out.first?.1 else { return XCTFail("\(out)") }
        let after = d.handle(.message(w1, .result(jobID: 7, attempt: 1, png: [], latents: WireTensor(shape: [1], data: [0]), metadataJSON: "")), now: 2)
        XCTAssertFalse(after.contains { if case .claim = $0 { true } else { false } })
        XCTAssertTrue(d.handle(.wake, now: 3).isEmpty)
    }

    func testCoordinatorOnlyMessageClosesTheLink() {
        var d = running()
        let actions = d.handle(.message(w1, .drain), now: 1)
        guard case .close(w1, _)? = actions.first else { return XCTFail("\(actions)") }
    }

    func testStepRateIsMeasuredFromProgress() {
        var d = running()
        _ = d.handle(.message(w1, .progress(jobID: 7, attempt: 1, step: 1, steps: 10)), now: 10)
        _ = d.handle(.message(w1, .progress(jobID: 7, attempt: 1, step: 3, steps: 10)), now: 11)
        let status = d.handle(.tick, now: 12).compactMap { action -> Double? in
            if case let .workerStatus(_, _, _, _, rate) = action { rate } else { nil }
        }
        XCTAssertEqual(status.first ?? 0, 2, accuracy: 1e-9)
    }
}
