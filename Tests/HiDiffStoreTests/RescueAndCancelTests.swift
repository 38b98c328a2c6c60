import Foundation
import HiDiffPostgres
import HiDiffStore
import XCTest

final class RescueAndCancelTests: StoreTestCase {
    func testRescueRequeuesFailsAtMaxAndCancelsRequested() throws {
        let ids = try store.submit([newJob(maxAttempts: 2, seed: 1), newJob(maxAttempts: 1, seed: 2),
                                    newJob(maxAttempts: 3, seed: 3), newJob(maxAttempts: 3, seed: 4)], batch: nil)
        let jobs = try store.claim(owner: "c", worker: "w1", models: ["sd15"], limit: 4, lease: 30)
        XCTAssertEqual(jobs.map(\.lease.jobID), ids)
        try store.cancel(jobIDs: [ids[2]])
        try store.renew(jobs[3].lease, for: 300)   // this one stays alive

        clock.advance(by: 30)
        XCTAssertEqual(try store.rescueExpired(), [], "a lease expiring exactly now is not expired yet")
        clock.advance(by: 0.5)   // a binary fraction: Dates round-trip exactly at microsecond precision
        XCTAssertEqual(try store.rescueExpired(), [ids[0], ids[1], ids[2]])

        let requeued = try record(ids[0])
        XCTAssertEqual(requeued.state, .queued)
        XCTAssertEqual(requeued.availableAt, clock.now())
        XCTAssertNil(requeued.leaseOwner)
        XCTAssertEqual(requeued.errors.count, 1)
        XCTAssertTrue(requeued.errors[0].contains("lease expired"), requeued.errors[0])
        XCTAssertEqual(try eventKinds(ids[0]), ["submitted", "claimed", "rescued"])

        let failed = try record(ids[1])
        XCTAssertEqual(failed.state, .failed)
        XCTAssertTrue(failed.error?.contains("lease expired") == true, "\(String(describing: failed.error))")
        XCTAssertTrue(failed.error?.contains("attempt 1 of 1") == true, "\(String(describing: failed.error))")
        XCTAssertEqual(failed.finishedAt, clock.now())
        XCTAssertEqual(try eventKinds(ids[1]), ["submitted", "claimed", "rescued", "failed"])

        let cancelled = try record(ids[2])
        XCTAssertEqual(cancelled.state, .cancelled)
        XCTAssertEqual(try eventKinds(ids[2]), ["submitted", "claimed", "cancel-requested", "rescued", "cancelled"])

        XCTAssertEqual(try record(ids[3]).state, .running)
        XCTAssertEqual(try store.rescueExpired(), [], "rescue is idempotent")
        // The rescued job is claimable again at once, with the next attempt number.
        XCTAssertEqual(try claimOne().lease, Lease(jobID: ids[0], attempt: 2, owner: "coord-a"))
    }

    func testCancelQueuedAndRunning() throws {
        let ids = try submit(3)
        let running = try claimOne()
        XCTAssertEqual(running.lease.jobID, ids[0])
        XCTAssertEqual(try store.cancel(jobIDs: [ids[0], ids[1], 999_999]), [ids[0], ids[1]])

        let queued = try record(ids[1])
        XCTAssertEqual(queued.state, .cancelled)
        XCTAssertEqual(queued.finishedAt, clock.now())
        let requested = try record(ids[0])
        XCTAssertEqual(requested.state, .running, "a running job only gets a request")
        XCTAssertTrue(requested.cancelRequested)
        XCTAssertEqual(try store.cancelRequested([running.lease, Lease(jobID: ids[2], attempt: 1, owner: "x")]),
                       [running.lease])
        XCTAssertEqual(try store.cancel(jobIDs: [ids[0], ids[1]]), [], "nothing new to cancel")

        try store.markCancelled(running.lease)
        XCTAssertEqual(try record(ids[0]).state, .cancelled)
        XCTAssertEqual(try store.cancelRequested([running.lease]), [])
        XCTAssertEqual(try eventKinds(ids[0]), ["submitted", "claimed", "cancel-requested", "cancelled"])
        XCTAssertEqual(try eventKinds(ids[1]), ["submitted", "cancelled"])
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 5, lease: 30).map(\.lease.jobID),
                       [ids[2]])
    }

    func testFailOrReleaseOfACancelRequestedJobCancelsIt() throws {
        let ids = try submit(2)
        let jobs = try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 2, lease: 30)
        try store.cancel(jobIDs: ids)
        XCTAssertEqual(try store.fail(jobs[0].lease, error: "interrupted", retryable: true), .cancelled)
        XCTAssertEqual(try store.release(jobs[1].lease, reason: "drain"), .cancelled)
        XCTAssertEqual(try store.jobs(ids: ids).map(\.state), [.cancelled, .cancelled])
    }

    func testCancelBatch() throws {
        let batch = try submit(3, batch: "nightly")
        let other = try submit(1, batch: "other")
        let running = try claimOne()
        XCTAssertEqual(running.lease.jobID, batch[0])
        XCTAssertEqual(try store.cancel(batch: "nightly"), batch)
        XCTAssertEqual(try store.jobs(batch: "nightly").map(\.state), [.running, .cancelled, .cancelled])
        XCTAssertTrue(try record(batch[0]).cancelRequested)
        XCTAssertEqual(try record(other[0]).state, .queued)
        XCTAssertEqual(try store.cancel(batch: "no-such-batch"), [])
    }

    func testAdminRetry() throws {
        let ids = try submit(3, maxAttempts: 1)
        let job = try claimOne()
        XCTAssertEqual(try store.fail(job.lease, error: "bad weights", retryable: true), .failed)
        try store.cancel(jobIDs: [ids[1]])

        try store.retry(jobID: ids[0])
        var stored = try record(ids[0])
        XCTAssertEqual(stored.state, .queued)
        XCTAssertEqual(stored.maxAttempts, 2, "exhausted budget raised by one")
        XCTAssertNil(stored.finishedAt)
        XCTAssertEqual(stored.errors, ["bad weights"], "history kept")
        try store.retry(jobID: ids[1])
        stored = try record(ids[1])
        XCTAssertEqual(stored.state, .queued)
        XCTAssertEqual(stored.maxAttempts, 1, "an unused budget is not raised")
        XCTAssertEqual(try eventKinds(ids[0]).last, "retried-by-admin")

        XCTAssertThrowsError(try store.retry(jobID: ids[2])) { error in
            guard case StoreError.invalidState(let id, let state, _)? = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(id, ids[2])
            XCTAssertEqual(state, .queued)
        }
        XCTAssertThrowsError(try store.retry(jobID: 424_242)) { error in
            guard case StoreError.notFound(jobID: 424_242)? = error as? StoreError else { return XCTFail("\(error)") }
        }
        let again = try claimOne()
        XCTAssertEqual(again.lease, Lease(jobID: ids[0], attempt: 2, owner: "coord-a"))
    }
}
