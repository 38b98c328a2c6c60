import Foundation
import HiDiffPostgres
import HiDiffTestSupport
import XCTest

/// A fresh database per test and a connection to it.
class PostgresTestCase: XCTestCase {
    var database: TestDatabase!
    var connection: PostgresConnection!

    override func setUpWithError() throws {
        try super.setUpWithError()
        database = try TestDatabase()
        connection = try PostgresConnection(url: database.url, reconnectTimeout: .seconds(10))
    }

    override func tearDownWithError() throws {
        connection?.close()
        try database?.drop()
        try super.tearDownWithError()
    }

    /// A second connection to the same database.
    func secondConnection() throws -> PostgresConnection {
        try PostgresConnection(url: database.url, reconnectTimeout: .seconds(10))
    }

    /// Terminates backend `pid` from `killer` and waits until the server no longer lists it.
    func terminate(pid: Int32, using killer: PostgresConnection) throws {
        let rows = try killer.query("SELECT pg_terminate_backend($1::int) AS ok", [.int(Int64(pid))])
        XCTAssertEqual(try rows.first?.bool("ok"), true, "pg_terminate_backend(\(pid))")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let alive = try killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", [.int(Int64(pid))])
            if alive.isEmpty { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTFail("backend \(pid) still listed 10 s after pg_terminate_backend")
    }

    /// A TCP port on 127.0.0.1 with nothing listening.
    func unusedPort() -> Int { LoopbackPort.unused() }
}
