import Foundation
import HiDiffPostgres
import HiDiffStore
import HiDiffTestSupport
import XCTest

/// A fresh, migrated database per test, a ManualClock and a JobStore over it.
class StoreTestCase: XCTestCase {
    var database: TestDatabase!
    var connection: PostgresConnection!
    var clock: ManualClock!
    var store: JobStore!

    /// Seconds; the store's backoff in these tests is base 2 (2 s, 4 s, ...).
    let retryPolicy = RetryPolicy(base: 2, cap: 60)

    override func setUpWithError() throws {
        try super.setUpWithError()
        database = try TestDatabase()
        connection = try PostgresConnection(url: database.url)
        try Migrator(connection: connection).apply()
        clock = ManualClock(Date(timeIntervalSince1970: 1_700_000_000))
        store = JobStore(connection: connection, clock: clock, retry: retryPolicy)
    }

    override func tearDownWithError() throws {
        connection?.close()
        try database?.drop()
        try super.tearDownWithError()
    }

    /// A job for `model` with a small request.
    func newJob(model: String = "sd15", steps: Int = 20, priority: Int = 0, maxAttempts: Int = 3,
                initImage: [UInt8]? = nil, seed: Int = 1) -> NewJob {
        NewJob(model: model, requestJSON: #"{"prompt": "three apples", "seed": \#(seed)}"#, steps: steps,
               initImage: initImage, priority: priority, maxAttempts: maxAttempts)
    }

    /// Submits `count` default jobs and returns their ids.
    @discardableResult
    func submit(_ count: Int, model: String = "sd15", maxAttempts: Int = 3, batch: String? = nil) throws -> [Int64] {
        try store.submit((0..<count).map { newJob(model: model, maxAttempts: maxAttempts, seed: $0) }, batch: batch)
    }

    /// Claims exactly one job or fails the test.
    func claimOne(owner: String = "coord-a", worker: String = "w1", models: [String] = ["sd15"],
                  lease: Double = 30, file: StaticString = #filePath, line: UInt = #line) throws -> ClaimedJob {
        let claimed = try store.claim(owner: owner, worker: worker, models: models, limit: 1, lease: lease)
        XCTAssertEqual(claimed.count, 1, "expected one claimable job", file: file, line: line)
        return try XCTUnwrap(claimed.first, file: file, line: line)
    }

    /// The stored record of a job.
    func record(_ id: Int64) throws -> JobRecord {
        try XCTUnwrap(try store.jobs(ids: [id]).first, "job \(id) missing")
    }

    /// The event kinds of a job, in order.
    func eventKinds(_ id: Int64) throws -> [String] {
        try store.events(jobID: id).map(\.kind)
    }

    /// Asserts that `body` throws `StoreError.leaseLost(lease)`.
    func assertLeaseLost(_ lease: Lease, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { error in
            guard case StoreError.leaseLost(let lost)? = error as? StoreError else {
                return XCTFail("\(what): expected leaseLost, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(lost, lease, file: file, line: line)
        }
    }
}
