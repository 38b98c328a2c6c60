import Foundation
import HiDiffPostgres
import HiDiffStore
import XCTest

final class LeaseTests: StoreTestCase {
    func testProgressCheckpointAndCompleteWithResult() throws {
        let id = try XCTUnwrap(try submit(1).first)
        let job = try claimOne(lease: 30)
        clock.advance(by: 10)
        try store.recordProgress(job.lease, step: 5, leaseSeconds: 30)
        var stored = try record(id)
        XCTAssertEqual(stored.step, 5)
        XCTAssertEqual(stored.leaseExpiresAt, clock.now().addingTimeInterval(30), "progress renews the lease")
        XCTAssertThrowsError(try store.recordProgress(job.lease, step: 21, leaseSeconds: 30)) { error in
            guard case StoreError.invalid? = error as? StoreError else { return XCTFail("\(error)") }
        }
        // The worker's own count of steps (PNDM runs one more, img2img fewer) replaces the requested one.
        try store.recordProgress(job.lease, step: 6, of: 21, leaseSeconds: 30)
        XCTAssertEqual(try record(id).steps, 21)
        XCTAssertNotNil(try store.connection.query("SELECT first_step_at FROM jobs WHERE id = $1", [.int(id)]).first?.optionalDate("first_step_at"))
        try store.recordProgress(job.lease, step: 5, of: 20, leaseSeconds: 30)
        XCTAssertEqual(try record(id).steps, 20)
        try store.saveCheckpoint(job.lease, step: 5, state: [0, 0, 7, 0])
        try store.saveCheckpoint(job.lease, step: 10, state: [1, 2, 3])
        XCTAssertThrowsError(try store.saveCheckpoint(job.lease, step: 99, state: [1]))
        let checkpoint = try XCTUnwrap(try store.checkpoint(jobID: id))
        XCTAssertEqual(checkpoint.step, 10)
        XCTAssertEqual(checkpoint.state, [1, 2, 3])
        XCTAssertEqual(checkpoint.attempt, 1)
        clock.advance(by: 5)
        try store.renew(job.lease, for: 100)
        XCTAssertEqual(try record(id).leaseExpiresAt, clock.now().addingTimeInterval(100))

        let png: [UInt8] = [137, 80, 78, 71, 0, 0, 0, 13]
        let latents = [UInt8](repeating: 0, count: 4096) + [9]
        try store.complete(job.lease, png: png, latents: latents, metadataJSON: #"{"seed": 1, "sampler": "ddim"}"#)
        stored = try record(id)
        XCTAssertEqual(stored.state, .succeeded)
        XCTAssertEqual(stored.step, 20)
        XCTAssertNil(stored.leaseOwner)
        XCTAssertNil(stored.leaseExpiresAt)
        XCTAssertEqual(stored.finishedAt, clock.now())
        let result = try XCTUnwrap(try store.result(jobID: id))
        XCTAssertEqual(result.png, png)
        XCTAssertEqual(result.latents, latents)
        XCTAssertEqual(result.metadataJSON, #"{"seed": 1, "sampler": "ddim"}"#)
        XCTAssertNil(try store.checkpoint(jobID: id), "the checkpoint is dropped on success")
        XCTAssertEqual(try eventKinds(id), ["submitted", "claimed", "checkpointed", "checkpointed", "succeeded"])
        // A finished lease is lost for every later change.
        assertLeaseLost(job.lease, "progress after complete") { try store.recordProgress(job.lease, step: 1, leaseSeconds: 1) }
        // A repeated complete by the same lease (a retry after a lost COMMIT) is a no-op.
        try store.complete(job.lease, png: [9], latents: [9], metadataJSON: "{}")
        XCTAssertEqual(try store.result(jobID: id)?.png, png, "the first result stays")
        XCTAssertEqual(try eventKinds(id).filter { $0 == "succeeded" }.count, 1)
        let otherOwner = Lease(jobID: id, attempt: 1, owner: "someone-else")
        assertLeaseLost(otherOwner, "complete by another owner") {
            try store.complete(otherOwner, png: [], latents: [], metadataJSON: "{}")
        }
    }

    func testInvalidResultMetadataIsRefusedAndNothingChanges() throws {
        let id = try XCTUnwrap(try submit(1).first)
        let job = try claimOne()
        XCTAssertThrowsError(try store.complete(job.lease, png: [1], latents: [2], metadataJSON: "not json")) { error in
            guard case StoreError.invalid? = error as? StoreError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try record(id).state, .running)
        XCTAssertNil(try store.result(jobID: id))
    }

    func testFencingAfterRescueAndReclaimByAnotherOwner() throws {
        let id = try XCTUnwrap(try submit(1).first)
        let old = try claimOne(owner: "coord-a", worker: "w1", lease: 30)
        try store.saveCheckpoint(old.lease, step: 4, state: [4])
        clock.advance(by: 31)
        XCTAssertEqual(try store.rescueExpired(), [id])
        let new = try claimOne(owner: "coord-b", worker: "w2", lease: 30)
        XCTAssertEqual(new.lease, Lease(jobID: id, attempt: 2, owner: "coord-b"))
        XCTAssertEqual(new.checkpoint?.step, 4, "the new attempt resumes from the checkpoint")
        XCTAssertEqual(try record(id).step, 4)
        try store.recordProgress(new.lease, step: 6, leaseSeconds: 30)
        let before = try record(id)
        let eventsBefore = try store.events(jobID: id).count

        assertLeaseLost(old.lease, "complete") { try store.complete(old.lease, png: [1], latents: [1], metadataJSON: "{}") }
        assertLeaseLost(old.lease, "progress") { try store.recordProgress(old.lease, step: 19, leaseSeconds: 30) }
        assertLeaseLost(old.lease, "checkpoint") { try store.saveCheckpoint(old.lease, step: 19, state: [9]) }
        assertLeaseLost(old.lease, "fail") { _ = try store.fail(old.lease, error: "late", retryable: false) }
        assertLeaseLost(old.lease, "renew") { try store.renew(old.lease, for: 1000) }
        assertLeaseLost(old.lease, "release") { _ = try store.release(old.lease, reason: "late") }
        assertLeaseLost(old.lease, "markCancelled") { try store.markCancelled(old.lease) }
        // Same attempt, other owner, and other attempt, same owner, are both stale too.
        assertLeaseLost(Lease(jobID: id, attempt: 2, owner: "coord-a"), "wrong owner") {
            try store.renew(Lease(jobID: id, attempt: 2, owner: "coord-a"), for: 1)
        }

        let after = try record(id)
        XCTAssertEqual(after.state, .running)
        XCTAssertEqual(after.step, before.step)
        XCTAssertEqual(after.leaseOwner, "coord-b")
        XCTAssertEqual(after.leaseExpiresAt, before.leaseExpiresAt)
        XCTAssertEqual(after.updatedAt, before.updatedAt)
        XCTAssertEqual(after.errors, before.errors)
        XCTAssertNil(try store.result(jobID: id))
        XCTAssertEqual(try store.checkpoint(jobID: id)?.state, [4], "the stale checkpoint was not written")
        XCTAssertEqual(try store.events(jobID: id).count, eventsBefore, "no events from the stale lease")
        // The current lease still works.
        try store.complete(new.lease, png: [1], latents: [2], metadataJSON: "{}")
        XCTAssertEqual(try record(id).state, .succeeded)
    }

    func testRetryableFailureBacksOffThenFailsAtMaxKeepingTheError() throws {
        let id = try XCTUnwrap(try submit(1, maxAttempts: 3).first)
        // Attempt 1 fails: retry after 2^1 = 2 s.
        var job = try claimOne()
        XCTAssertEqual(try store.fail(job.lease, error: "out of memory", retryable: true), .queued)
        var stored = try record(id)
        XCTAssertEqual(stored.state, .queued)
        XCTAssertEqual(stored.availableAt, clock.now().addingTimeInterval(2))
        XCTAssertEqual(stored.error, "out of memory")
        XCTAssertNil(stored.leaseOwner)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).count, 0,
                       "not claimable during the backoff")
        clock.advance(by: 1.5)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).count, 0)
        clock.advance(by: 0.5)
        // Attempt 2 fails: retry after 4 s.
        job = try claimOne()
        XCTAssertEqual(job.lease.attempt, 2)
        XCTAssertEqual(try store.fail(job.lease, error: "worker crashed", retryable: true), .queued)
        XCTAssertEqual(try record(id).availableAt, clock.now().addingTimeInterval(4))
        clock.advance(by: 4)
        // Attempt 3 is the last: a retryable failure is final.
        job = try claimOne()
        XCTAssertEqual(job.lease.attempt, 3)
        XCTAssertEqual(try store.fail(job.lease, error: "nan in latents", retryable: true), .failed)
        stored = try record(id)
        XCTAssertEqual(stored.state, .failed)
        XCTAssertEqual(stored.error, "nan in latents")
        XCTAssertEqual(stored.errors, ["out of memory", "worker crashed", "nan in latents"])
        XCTAssertEqual(stored.finishedAt, clock.now())
        XCTAssertEqual(try eventKinds(id), ["submitted", "claimed", "retry-scheduled", "claimed", "retry-scheduled",
                                            "claimed", "failed"])
        clock.advance(by: 1000)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).count, 0)
    }

    func testNonRetryableFailureIsFinalAtOnce() throws {
        let id = try XCTUnwrap(try submit(1, maxAttempts: 5).first)
        let job = try claimOne()
        XCTAssertEqual(try store.fail(job.lease, error: "invalid prompt", retryable: false), .failed)
        XCTAssertEqual(try record(id).state, .failed)
        XCTAssertEqual(try record(id).error, "invalid prompt")
    }

    func testReleaseRequeuesWithoutConsumingTheRetryBudget() throws {
        let id = try XCTUnwrap(try submit(1, maxAttempts: 2).first)
        let first = try claimOne(owner: "a")
        try store.saveCheckpoint(first.lease, step: 7, state: [7])
        XCTAssertEqual(try store.release(first.lease, reason: "worker draining"), .queued)
        var stored = try record(id)
        XCTAssertEqual(stored.state, .queued)
        XCTAssertEqual(stored.attempt, 1, "attempt stays")
        XCTAssertEqual(stored.maxAttempts, 3, "the budget grows by the released attempt")
        XCTAssertEqual(stored.availableAt, clock.now(), "claimable at once")
        XCTAssertEqual(stored.errors, [])
        assertLeaseLost(first.lease, "released lease") { try store.renew(first.lease, for: 1) }
        // Two failing attempts are still allowed, as if the release never happened.
        let second = try claimOne(owner: "a")
        XCTAssertEqual(second.lease.attempt, 2, "the next claim bumps the attempt: leases stay unique")
        XCTAssertEqual(second.checkpoint?.step, 7)
        XCTAssertEqual(try store.fail(second.lease, error: "boom 1", retryable: true), .queued)
        clock.advance(by: 10)
        let third = try claimOne(owner: "a")
        XCTAssertEqual(try store.fail(third.lease, error: "boom 2", retryable: true), .failed)
        stored = try record(id)
        XCTAssertEqual(stored.errors, ["boom 1", "boom 2"])
        XCTAssertEqual(try eventKinds(id), ["submitted", "claimed", "checkpointed", "released", "claimed",
                                            "retry-scheduled", "claimed", "failed"])
    }
}
