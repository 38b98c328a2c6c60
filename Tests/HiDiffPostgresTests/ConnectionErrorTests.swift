import Foundation
import HiDiffPostgres
import HiDiffTestSupport
import XCTest

final class ConnectionErrorTests: PostgresTestCase {
    func testQueryErrorCarriesSQLStateAndWhatFailed() throws {
        XCTAssertThrowsError(try connection.query("SELECT 1 / $1::int AS x", [.int(0)])) { error in
            guard let error = error as? PostgresError else { return XCTFail("not a PostgresError: \(error)") }
            XCTAssertEqual(error.sqlState, "22012")
            XCTAssertFalse(error.isConnectionLoss)
            XCTAssertTrue(error.message.contains("division by zero"), error.message)
            XCTAssertTrue(error.message.contains("SELECT 1 / $1::int AS x"), "names the query: \(error.message)")
        }
        // The connection stays usable after a statement error.
        XCTAssertEqual(try connection.query("SELECT 2 AS two").first?.int("two"), 2)
    }

    func testConstraintErrorNamesTheConstraint() throws {
        try connection.execute("CREATE TABLE t (n int CONSTRAINT n_positive CHECK (n > 0))")
        XCTAssertThrowsError(try connection.execute("INSERT INTO t VALUES ($1)", [.int(-1)])) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "23514")
            XCTAssertEqual(error?.constraint, "n_positive")
        }
    }

    func testConnectionErrorCarriesSQLStateAndRedactsPassword() throws {
        let secret = "s3cr3t-hunter2"
        let admin = try TestDatabase.requireAdminURL()
        let withPassword = admin.replacingOccurrences(of: "://hidiff@", with: "://hidiff:\(secret)@")
        XCTAssertNotEqual(withPassword, admin, "the test server URL should be postgresql://hidiff@...")
        let url = TestDatabase.url(withPassword, database: "no_such_database_\(UInt32.random(in: 0...UInt32.max))")
        XCTAssertThrowsError(try PostgresConnection(url: url)) { error in
            guard let error = error as? PostgresError else { return XCTFail("not a PostgresError: \(error)") }
            XCTAssertEqual(error.sqlState, "3D000", error.description)
            XCTAssertFalse(error.isConnectionLoss, "an unknown database is not a lost connection")
            XCTAssertTrue(error.message.contains("does not exist"), error.message)
            XCTAssertFalse(error.description.contains(secret), "password leaked: \(error.description)")
            XCTAssertFalse("\(error)".contains(secret))
            XCTAssertTrue(error.message.contains("hidiff:***@"), error.message)
        }
    }

    func testRefusedConnectionIsAConnectionLossWithClass08() throws {
        let url = "postgresql://hidiff:pw-never-shown@127.0.0.1:\(unusedPort())/postgres"
        let started = Date()
        XCTAssertThrowsError(try PostgresConnection(url: url, reconnectTimeout: .seconds(1))) { error in
            guard let error = error as? PostgresError else { return XCTFail("not a PostgresError: \(error)") }
            XCTAssertEqual(error.sqlState, "08001")
            XCTAssertTrue(error.isConnectionLoss)
            XCTAssertFalse(error.description.contains("pw-never-shown"), error.description)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the first connect does not retry")
    }

    func testRedactedConnectionStrings() {
        XCTAssertEqual(ConnectionString.redacted("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db")
        XCTAssertEqual(ConnectionString.redacted("postgres://u@h/db"), "postgres://u@h/db")
        XCTAssertEqual(ConnectionString.redacted("postgresql://h/db?user=u&password=pw&sslmode=off"),
                       "postgresql://h/db?user=u&password=***&sslmode=off")
        XCTAssertEqual(ConnectionString.redacted("host=h password=pw dbname=d"), "host=h password=*** dbname=d")
        XCTAssertEqual(ConnectionString.redacted("host=h password = 'p w\\'x' user=u"), "host=h password=*** user=u")
        XCTAssertEqual(ConnectionString.redacted("host=h user=u"), "host=h user=u")
    }

    func testClosedConnectionThrows() throws {
        connection.close()
        connection.close()
        XCTAssertThrowsError(try connection.query("SELECT 1")) { error in
            XCTAssertTrue("\(error)".contains("closed"), "\(error)")
        }
    }

    func testNulByteInTextParameterIsRefused() throws {
        XCTAssertThrowsError(try connection.query("SELECT $1 AS s", [.text("a\u{0}b")])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22021")
        }
    }
}
