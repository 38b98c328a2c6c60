import Foundation
import HiDiffPostgres
import HiDiffStore
import HiDiffTestSupport
import XCTest

final class ClaimTests: StoreTestCase {
    func testClaimOrderIsPriorityThenID() throws {
        let ids = try store.submit([
            newJob(priority: 0), newJob(priority: 5), newJob(priority: 0), newJob(priority: 9), newJob(priority: 5),
        ], batch: nil)
        let claimed = try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 3, lease: 30)
        XCTAssertEqual(claimed.map(\.lease.jobID), [ids[3], ids[1], ids[4]])
        let rest = try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 10, lease: 30)
        XCTAssertEqual(rest.map(\.lease.jobID), [ids[0], ids[2]])
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 10, lease: 30).count, 0)
    }

    func testClaimSetsLeaseAndReturnsTheJob() throws {
        let image: [UInt8] = [0, 1, 2, 0, 255]
        let id = try XCTUnwrap(try store.submit([newJob(steps: 30, maxAttempts: 4, initImage: image, seed: 77)],
                                                batch: "b1").first)
        let job = try claimOne(owner: "coord-a", worker: "w7", lease: 45)
        XCTAssertEqual(job.lease, Lease(jobID: id, attempt: 1, owner: "coord-a"))
        XCTAssertEqual(job.model, "sd15")
        XCTAssertEqual(job.steps, 30)
        XCTAssertEqual(job.maxAttempts, 4)
        XCTAssertEqual(job.initImage, image)
        XCTAssertNil(job.checkpoint)
        let request = try JSONSerialization.jsonObject(with: Data(job.requestJSON.utf8)) as? [String: Any]
        XCTAssertEqual(request?["seed"] as? Int, 77)
        let stored = try record(id)
        XCTAssertEqual(stored.state, .running)
        XCTAssertEqual(stored.attempt, 1)
        XCTAssertEqual(stored.leaseOwner, "coord-a")
        XCTAssertEqual(stored.workers, ["w7"])
        XCTAssertEqual(stored.batch, "b1")
        XCTAssertEqual(stored.startedAt, clock.now())
        XCTAssertEqual(stored.leaseExpiresAt, clock.now().addingTimeInterval(45))
        XCTAssertEqual(try eventKinds(id), ["submitted", "claimed"])
        let claimedEvent = try XCTUnwrap(try store.events(jobID: id).last)
        XCTAssertEqual(claimedEvent.worker, "w7")
        XCTAssertEqual(claimedEvent.attempt, 1)
        XCTAssertEqual(claimedEvent.at, clock.now())
    }

    func testOnlyModelsInTheClaimersList() throws {
        let ids = try store.submit([newJob(model: "sdxl"), newJob(model: "sd15"), newJob(model: "flux")], batch: nil)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["other"], limit: 5, lease: 30).count, 0)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: [], limit: 5, lease: 30).count, 0)
        let claimed = try store.claim(owner: "c", worker: "w", models: ["flux", "sdxl"], limit: 5, lease: 30)
        XCTAssertEqual(Set(claimed.map(\.lease.jobID)), [ids[0], ids[2]])
        XCTAssertEqual(try record(ids[1]).state, .queued)
    }

    func testAvailableAtIsHonoured() throws {
        let id = try XCTUnwrap(try submit(1).first)
        try connection.execute("UPDATE jobs SET available_at = $2 WHERE id = $1",
                               [.int(id), .timestamp(clock.now().addingTimeInterval(10))])
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).count, 0)
        clock.advance(by: 9.999)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).count, 0)
        clock.advance(by: 0.001)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 30).map(\.lease.jobID), [id])
    }

    func testClaimArgumentsAreChecked() throws {
        try submit(1)
        XCTAssertEqual(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 0, lease: 30).count, 0)
        XCTAssertThrowsError(try store.claim(owner: "", worker: "w", models: ["sd15"], limit: 1, lease: 30))
        XCTAssertThrowsError(try store.claim(owner: "c", worker: "w", models: ["sd15"], limit: 1, lease: 0))
    }

    func testAsyncRunClaimsOnTheConnectionQueue() async throws {
        let store = try XCTUnwrap(self.store)
        let ids = try await store.run { try $0.submit([NewJob(model: "sd15", requestJSON: "{}", steps: 4)], batch: nil) }
        let claimed = try await store.run { try $0.claim(owner: "c", worker: "w", models: ["sd15"], limit: 5, lease: 30) }
        XCTAssertEqual(claimed.map(\.lease.jobID), ids)
    }

    func testEveryJobClaimedExactlyOnceUnderEightConcurrentClaimers() throws {
        let ids = try store.submit((0..<200).map { newJob(priority: $0 % 3, seed: $0) }, batch: "race")
        XCTAssertEqual(ids.count, 200)
        let url = try XCTUnwrap(database?.url)
        let clock = try XCTUnwrap(self.clock)
        let policy = retryPolicy
        let claims = LockedBox<[Int64: [String]]>([:])
        let failures = LockedBox<[String]>([])
        let group = DispatchGroup()
        for claimer in 0..<8 {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    let connection = try PostgresConnection(url: url)
                    defer { connection.close() }
                    let store = JobStore(connection: connection, clock: clock, retry: policy)
                    var emptyInARow = 0
                    while emptyInARow < 3 {
                        let got = try store.claim(owner: "owner-\(claimer)", worker: "w\(claimer)", models: ["sd15"],
                                                  limit: 1 + claimer % 4, lease: 60)
                        emptyInARow = got.isEmpty ? emptyInARow + 1 : 0
                        claims.withValue { map in
                            for job in got { map[job.lease.jobID, default: []].append(job.lease.owner) }
                        }
                    }
                } catch {
                    failures.withValue { $0.append("claimer \(claimer): \(error)") }
                }
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "claimers did not finish")
        XCTAssertEqual(failures.current, [])
        let result = claims.current
        XCTAssertEqual(Set(result.keys), Set(ids), "every job claimed")
        XCTAssertEqual(result.values.filter { $0.count != 1 }.count, 0, "a job claimed twice: \(result.filter { $0.value.count != 1 })")
        XCTAssertGreaterThan(Set(result.values.flatMap { $0 }).count, 1, "several claimers took part")
        // The database agrees: all running, attempt 1, owner as returned.
        for job in try store.jobs(batch: "race") {
            XCTAssertEqual(job.state, .running)
            XCTAssertEqual(job.attempt, 1)
            XCTAssertEqual(job.leaseOwner, result[job.id]?.first)
        }
        let claimedEvents = try connection.query("SELECT count(*) AS n FROM job_events WHERE kind = 'claimed'")
        XCTAssertEqual(try claimedEvents.first?.int("n"), 200)
    }
}
