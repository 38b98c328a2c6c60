import Foundation
import HiDiffPostgres
import HiDiffTestSupport
import XCTest

private struct Boom: Error {}

final class TransactionTests: PostgresTestCase {
    private func count() throws -> Int64 {
        try XCTUnwrap(try connection.query("SELECT count(*) AS n FROM t").first).int("n")
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try connection.execute("CREATE TABLE t (n int PRIMARY KEY)")
    }

    func testCommitAndRollbackOnThrow() throws {
        try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (1)")
            try c.execute("INSERT INTO t VALUES (2)")
        }
        XCTAssertEqual(try count(), 2)
        XCTAssertThrowsError(try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (3)")
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try count(), 2, "the insert of 3 was rolled back")
        // A failing statement rolls back the earlier ones of the same transaction.
        XCTAssertThrowsError(try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (4)")
            try c.execute("INSERT INTO t VALUES (1)")   // duplicate key
        }) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23505") }
        XCTAssertEqual(try count(), 2)
    }

    func testSwallowedStatementErrorDoesNotCommit() throws {
        XCTAssertThrowsError(try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (10)")
            _ = try? c.execute("INSERT INTO t VALUES (10)")   // fails; caught by the body
        }) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "25P02", "\($0)") }
        XCTAssertEqual(try count(), 0)
    }

    func testNestedTransactionsUseSavepoints() throws {
        try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (1)")
            XCTAssertThrowsError(try c.transaction { inner in
                try inner.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            })
            try c.transaction { inner in try inner.execute("INSERT INTO t VALUES (3)") }
        }
        XCTAssertEqual(try connection.query("SELECT n FROM t ORDER BY n").map { try $0.int("n") }, [1, 3])
    }

    func testAsyncTransactionAndQuery() async throws {
        let connection = try XCTUnwrap(self.connection)
        let value = try await connection.transaction { c -> Int64 in
            try c.execute("INSERT INTO t VALUES (7)")
            return try XCTUnwrap(try c.query("SELECT count(*) AS n FROM t").first).int("n")
        }
        XCTAssertEqual(value, 1)
        let rows = try await connection.query("SELECT n FROM t WHERE n = $1", [.int(7)])
        XCTAssertEqual(try rows.first?.int("n"), 7)
        let affected = try await connection.execute("DELETE FROM t")
        XCTAssertEqual(affected, 1)
    }

    func testConcurrentCallersAreSerialised() throws {
        let connection = try XCTUnwrap(self.connection)
        let errors = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                try connection.transaction { c in
                    for k in 0..<25 { try c.execute("INSERT INTO t VALUES ($1)", [.int(Int64(i * 100 + k))]) }
                }
            } catch {
                errors.withValue { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(errors.current, [])
        XCTAssertEqual(try count(), 200)
    }
}
