import Foundation
import HiDiffPostgres
import HiDiffTestSupport
import XCTest

final class NotificationAndReconnectTests: PostgresTestCase {
    func testListenNotifyDeliveryAndTimeout() throws {
        let sender = try secondConnection()
        defer { sender.close() }
        try connection.listen("hidiff_test_channel")
        try sender.execute("SELECT pg_notify($1, $2)", [.text("hidiff_test_channel"), .text("job 42")])
        try sender.execute("SELECT pg_notify($1, $2)", [.text("other_channel"), .text("ignored")])
        let notification = try connection.waitForNotification(timeout: .seconds(5))
        XCTAssertEqual(notification, PostgresNotification(channel: "hidiff_test_channel", payload: "job 42"))

        let started = Date()
        XCTAssertNil(try connection.waitForNotification(timeout: .milliseconds(300)))
        let waited = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(waited, 0.29)
        XCTAssertLessThan(waited, 3)
    }

    func testNotificationReceivedDuringAQueryIsKept() throws {
        try connection.listen("chan")
        try connection.execute("NOTIFY chan, 'self'")   // delivered to this session after commit
        XCTAssertEqual(try connection.query("SELECT 1 AS one").first?.int("one"), 1)
        XCTAssertEqual(try connection.waitForNotification(timeout: .seconds(2))?.payload, "self")
    }

    func testAsyncWaitForNotification() async throws {
        let connection = try XCTUnwrap(self.connection)
        let sender = try secondConnection()
        defer { sender.close() }
        try await connection.listen("async_chan")
        async let received = connection.waitForNotification(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(100))
        try await sender.execute("NOTIFY async_chan, 'hi'")
        let notification = try await received
        XCTAssertEqual(notification?.payload, "hi")
    }

    func testReconnectsAfterBackendTerminatedAndRelistens() throws {
        let killer = try secondConnection()
        defer { killer.close() }
        try connection.listen("after_reconnect")
        let pid = try XCTUnwrap(connection.processID)
        try terminate(pid: pid, using: killer)

        // The next call notices the dead session before sending and reconnects.
        XCTAssertEqual(try connection.query("SELECT 1 AS one").first?.int("one"), 1)
        let newPID = try XCTUnwrap(connection.processID)
        XCTAssertNotEqual(newPID, pid)
        try killer.execute("NOTIFY after_reconnect, 'still listening'")
        XCTAssertEqual(try connection.waitForNotification(timeout: .seconds(5))?.payload, "still listening")
    }

    func testLossWhileWaitingReconnectsAndReturnsNil() throws {
        let killer = try secondConnection()
        defer { killer.close() }
        try connection.listen("lost_while_waiting")
        let pid = try XCTUnwrap(connection.processID)
        let connection = try XCTUnwrap(self.connection)
        let outcome = LockedBox<Result<PostgresNotification?, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result { try connection.waitForNotification(timeout: .seconds(20)) }
            outcome.withValue { $0 = result }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)
        try terminate(pid: pid, using: killer)
        XCTAssertEqual(done.wait(timeout: .now() + 15), .success, "the wait should end at the loss")
        switch outcome.current {
        case .success(let notification)?: XCTAssertNil(notification)
        case .failure(let error)?: XCTFail("wait threw \(error)")
        case nil: XCTFail("no outcome")
        }
        try killer.execute("NOTIFY lost_while_waiting, 'again'")
        XCTAssertEqual(try connection.waitForNotification(timeout: .seconds(5))?.payload, "again")
    }

    func testQueryInFlightAtLossThrowsConnectionLossThenRecovers() throws {
        let killer = try secondConnection()
        defer { killer.close() }
        let connection = try XCTUnwrap(self.connection)
        let pid = try XCTUnwrap(connection.processID)
        let outcome = LockedBox<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do {
                _ = try connection.query("SELECT pg_sleep(30)")
            } catch {
                outcome.withValue { $0 = error }
            }
            done.signal()
        }
        // Wait until the sleep is running on the server.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let active = try killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND query LIKE 'SELECT pg_sleep%'",
                                          [.int(Int64(pid))])
            if !active.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        try terminate(pid: pid, using: killer)
        XCTAssertEqual(done.wait(timeout: .now() + 15), .success)
        let error = try XCTUnwrap(outcome.current as? PostgresError, "expected a PostgresError, got \(String(describing: outcome.current))")
        XCTAssertTrue(error.isConnectionLoss, error.description)
        XCTAssertNotNil(error.sqlState)
        XCTAssertEqual(try connection.query("SELECT 3 AS three").first?.int("three"), 3)
    }

    func testNoReconnectInsideATransaction() throws {
        let killer = try secondConnection()
        defer { killer.close() }
        try connection.execute("CREATE TABLE t (n int)")
        let pid = try XCTUnwrap(connection.processID)
        XCTAssertThrowsError(try connection.transaction { c in
            try c.execute("INSERT INTO t VALUES (1)")
            try terminate(pid: pid, using: killer)
            try c.execute("INSERT INTO t VALUES (2)")
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.isConnectionLoss, true, "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM t").first?.int("n"), 0)
    }

    /// The test database's URL routed through a proxy that can take the server away.
    private func proxied() throws -> (TCPProxy, String) {
        let components = try XCTUnwrap(URLComponents(string: database.url), "HIDIFF_TEST_PG must be a postgresql:// URL")
        let proxy = try TCPProxy(targetPort: try XCTUnwrap(components.port))
        var routed = components
        routed.port = proxy.port
        return (proxy, try XCTUnwrap(routed.string))
    }

    func testReconnectsWithBackoffWhileTheServerIsAway() throws {
        let (proxy, url) = try proxied()
        defer { proxy.pause() }
        let routed = try PostgresConnection(url: url, reconnectTimeout: .seconds(15))
        defer { routed.close() }
        let firstPID = try XCTUnwrap(routed.processID)
        proxy.pause()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.0) { try? proxy.resume() }
        let started = Date()
        // The dead session is noticed before sending; connects are refused for ~1 s, then succeed.
        XCTAssertEqual(try routed.query("SELECT 5 AS five").first?.int("five"), 5)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.8, "it had to wait for the server")
        XCTAssertLessThan(elapsed, 10)
        XCTAssertNotEqual(routed.processID, firstPID)
    }

    func testReconnectGivesUpAfterTheTimeout() throws {
        let (proxy, url) = try proxied()
        defer { proxy.pause() }
        let routed = try PostgresConnection(url: url, reconnectTimeout: .seconds(1))
        defer { routed.close() }
        proxy.pause()
        let started = Date()
        XCTAssertThrowsError(try routed.query("SELECT 1")) { error in
            guard let error = error as? PostgresError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isConnectionLoss)
            XCTAssertEqual(error.sqlState, "08001")
            XCTAssertTrue(error.message.contains("could not reconnect"), error.message)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.5, "it retried for about the timeout")
        XCTAssertLessThan(elapsed, 5)
        // Once the server is back, the next call connects again.
        try proxy.resume()
        XCTAssertEqual(try routed.query("SELECT 6 AS six").first?.int("six"), 6)
    }

    func testReconnectGivesUpAtOnceWhenTheDatabaseIsGone() throws {
        try database.drop()   // WITH (FORCE) also disconnects `connection`
        let started = Date()
        XCTAssertThrowsError(try connection.query("SELECT 1")) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.isConnectionLoss, true)
            XCTAssertEqual(error?.sqlState, "3D000", "\(String(describing: error))")
            XCTAssertTrue(error?.message.contains("could not reconnect") == true, "\(String(describing: error))")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "no point retrying an unknown database")
    }
}
