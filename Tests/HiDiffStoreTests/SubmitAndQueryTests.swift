import Foundation
import HiDiffPostgres
import HiDiffStore
import XCTest

final class SubmitAndQueryTests: StoreTestCase {
    private func jobCount() throws -> Int64 {
        try XCTUnwrap(try connection.query("SELECT count(*) AS n FROM jobs").first).int("n")
    }

    func testSubmitReturnsIdsInOrderAndRecordsEvents() throws {
        let ids = try store.submit([newJob(model: "a"), newJob(model: "b"), newJob(model: "c")], batch: "b-1")
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertEqual(try store.jobs(ids: ids.reversed()).map(\.model), ["a", "b", "c"])
        XCTAssertEqual(try store.jobs(batch: "b-1").map(\.id), ids)
        let batchRows = try connection.query("SELECT name, created_at FROM batches")
        XCTAssertEqual(try batchRows.map { try $0.string("name") }, ["b-1"])
        XCTAssertEqual(try batchRows.first?.date("created_at"), clock.now())
        // Same batch again: the row exists already.
        XCTAssertEqual(try store.submit([newJob()], batch: "b-1").count, 1)
        XCTAssertEqual(try store.jobs(batch: "b-1").count, 4)
        for id in ids {
            let events = try store.events(jobID: id)
            XCTAssertEqual(events.map(\.kind), ["submitted"])
            XCTAssertEqual(events.first?.attempt, 0)
            XCTAssertEqual(events.first?.at, clock.now())
            XCTAssertTrue(events.first?.detail.contains("b-1") == true, "\(String(describing: events.first?.detail))")
        }
        let job = try record(ids[0])
        XCTAssertEqual(job.state, .queued)
        XCTAssertEqual(job.createdAt, clock.now())
        XCTAssertEqual(job.availableAt, clock.now())
        XCTAssertEqual(job.attempt, 0)
        XCTAssertEqual(job.maxAttempts, 3)
        XCTAssertNil(job.startedAt)
        XCTAssertEqual(try store.submit([], batch: nil), [])
    }

    func testSubmitIsAllOrNothing() throws {
        try submit(1)
        let jobs = [newJob(seed: 1), newJob(steps: 0, seed: 2), newJob(seed: 3)]
        XCTAssertThrowsError(try store.submit(jobs, batch: "doomed")) { error in
            guard case StoreError.invalid(let message)? = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("job 2 of 3"), message)
            XCTAssertTrue(message.contains("jobs_steps_positive"), message)
        }
        XCTAssertEqual(try jobCount(), 1, "nothing of the failed submit was inserted")
        XCTAssertEqual(try connection.query("SELECT 1 FROM batches WHERE name = 'doomed'").count, 0)
        XCTAssertEqual(try connection.query("SELECT 1 FROM job_events").count, 1)

        XCTAssertThrowsError(try store.submit([newJob(), NewJob(model: "m", requestJSON: "{oops", steps: 1)], batch: nil))
        XCTAssertThrowsError(try store.submit([NewJob(model: "m", requestJSON: "[1]", steps: 1)], batch: nil),
                             "the request must be a JSON object")
        XCTAssertThrowsError(try store.submit([newJob(maxAttempts: 0)], batch: nil))
        XCTAssertThrowsError(try store.submit([newJob(model: "")], batch: nil))
        XCTAssertEqual(try jobCount(), 1)
    }

    func testJobsByStateNewestFirst() throws {
        let ids = try submit(4)
        _ = try claimOne()
        XCTAssertEqual(try store.jobs(state: .queued, limit: 10).map(\.id), [ids[3], ids[2], ids[1]])
        XCTAssertEqual(try store.jobs(state: .running, limit: 10).map(\.id), [ids[0]])
        XCTAssertEqual(try store.jobs(state: nil, limit: 2).map(\.id), [ids[3], ids[2]])
        XCTAssertEqual(try store.jobs(state: .failed, limit: 10).count, 0)
    }

    func testNotificationsOnSubmitRequeueAndProgress() throws {
        let listener = try PostgresConnection(url: database.url)
        defer { listener.close() }
        try listener.listen(JobStore.jobsChannel)
        try listener.listen(JobStore.jobEventsChannel)
        func drain() throws -> [PostgresNotification] {
            var all: [PostgresNotification] = []
            while let next = try listener.waitForNotification(timeout: .milliseconds(300)) { all.append(next) }
            return all
        }
        let id = try XCTUnwrap(try submit(1).first)
        var got = try drain()
        XCTAssertTrue(got.contains(PostgresNotification(channel: "hidiff_jobs", payload: "\(id)")), "\(got)")
        let job = try claimOne()
        got = try drain()
        XCTAssertEqual(got, [PostgresNotification(channel: "hidiff_job_events", payload: "\(id)")])
        try store.recordProgress(job.lease, step: 3, leaseSeconds: 30)
        XCTAssertEqual(try drain().map(\.channel), ["hidiff_job_events"])
        try store.renew(job.lease, for: 30)
        XCTAssertEqual(try drain(), [], "a renewal changes neither state nor step")
        XCTAssertEqual(try store.fail(job.lease, error: "x", retryable: true), .queued)
        got = try drain()
        XCTAssertEqual(Set(got.map(\.channel)), ["hidiff_jobs", "hidiff_job_events"], "re-queue notifies claimers")
    }

    func testQueueStats() throws {
        let ids = try submit(5)
        clock.advance(by: 100)
        let jobs = try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 3, lease: 600)
        try store.complete(jobs[0].lease, png: [1], latents: [1], metadataJSON: "{}")
        clock.advance(by: 240)   // 4 minutes later
        try store.complete(jobs[1].lease, png: [1], latents: [1], metadataJSON: "{}")
        XCTAssertEqual(try store.fail(jobs[2].lease, error: "x", retryable: true), .queued)   // back-off 2 s
        try store.cancel(jobIDs: [ids[4]])
        try store.registerWorker(WorkerRegistration(name: "w", address: "h:1", cores: 4, memoryBytes: 1 << 30,
                                                    models: ["sd15"], version: "1", kernels: "blas"), coordinator: "c")
        try store.workerHeartbeat(name: "w", state: "busy", currentJob: ids[3], step: 2, stepsPerSecond: 1.5)

        let stats = try store.queueStats()
        XCTAssertEqual(stats.countsByState, ["queued": 2, "running": 0, "succeeded": 2, "failed": 0, "cancelled": 1])
        XCTAssertEqual(stats.queuedAvailable, 1, "the retried job is still backing off")
        XCTAssertEqual(try XCTUnwrap(stats.oldestQueuedAge), 340, accuracy: 1e-6)
        XCTAssertEqual(stats.completedLast1m, 1)
        XCTAssertEqual(stats.completedLast5m, 2)
        XCTAssertEqual(stats.completedLast15m, 2)
        XCTAssertEqual(stats.failedLast15m, 0)
        XCTAssertEqual(stats.cancelledLast15m, 1)
        XCTAssertEqual(stats.workersByState["busy"], 1)
        XCTAssertEqual(stats.stepsPerSecond, 1.5)
        clock.advance(by: 120)
        let later = try store.queueStats()
        XCTAssertEqual(later.completedLast1m, 0)
        XCTAssertEqual(later.completedLast5m, 1)
        XCTAssertEqual(later.queuedAvailable, 2)
    }
}
