import CLibPQ
import Dispatch
import Foundation
import Logging

/// One PostgreSQL session through libpq.
///
/// Every libpq call runs on the connection's own serial `DispatchQueue`, never on Swift's cooperative pool:
/// the synchronous API (for the CLI and for code already on a worker thread) blocks the caller until the
/// queue ran it; the `async` mirrors suspend and resume when it is done. Calls from several threads are
/// serialised. Calls made from inside `transaction`'s body run directly (they are already on the queue).
///
/// Connection loss: an operation in flight when the server goes away throws a `PostgresError` with
/// `isConnectionLoss == true` (it may or may not have been applied: the caller decides whether to retry).
/// The next operation reconnects first, with capped exponential backoff for up to `reconnectTimeout`, and
/// re-LISTENs every channel. Inside a transaction nothing reconnects: the rest of the body throws.
/// Before each operation an idle connection is checked for a server-side close (terminated backend,
/// server restart), so a connection that died while idle reconnects without failing a query.
public final class PostgresConnection: @unchecked Sendable {
    /// The connection URL with its password replaced by `***`.
    public let redactedURL: String
    let url: String
    let logger: Logger
    let reconnectTimeout: Duration
    let queue: DispatchQueue
    private let queueKey = DispatchSpecificKey<UInt8>()

    // Confined to `queue`.
    var conn: OpaquePointer?
    var listening: [String] = []
    var transactionDepth = 0
    var closed = false
    /// Set by the notice receiver when the server announced (FATAL/PANIC) that it is closing the session.
    var serverClosedSession = false

    /// Connects to `url` (a libpq connection string or a postgresql:// URL); throws a `PostgresError`
    /// (SQLSTATE when the server sent one, else 08001) when the first connection fails — no retries here.
    /// Later losses reconnect with capped exponential backoff for up to `reconnectTimeout`.
    public init(url: String, logger: Logger = Logger(label: "hidiff.postgres"),
                reconnectTimeout: Duration = .seconds(30)) throws {
        self.url = url
        self.redactedURL = ConnectionString.redacted(url)
        self.logger = logger
        self.reconnectTimeout = reconnectTimeout
        self.queue = DispatchQueue(label: "hidiff.postgres.connection")
        queue.setSpecific(key: queueKey, value: 1)
        try onQueue {
            conn = try establish(timeout: 15)
        }
        logger.debug("connected", metadata: ["url": .string(redactedURL)])
    }

    deinit {
        if let conn { PQfinish(conn) }
    }

    /// Runs `body` on the connection's queue (directly when already there) and waits for it.
    @discardableResult
    func onQueue<T>(_ body: () throws -> T) throws -> T {
        if DispatchQueue.getSpecific(key: queueKey) != nil { return try body() }
        return try queue.sync(execute: body)
    }

    /// Runs `body` on the connection's queue without blocking the calling task.
    func onQueueAsync<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Runs a parameterised statement (`$1`, `$2`, ...) and returns its rows.
    public func query(_ sql: String, _ params: [PostgresValue] = []) throws -> [PostgresRow] {
        try onQueue { try runQuery(sql, params).rows }
    }

    /// Runs a parameterised statement and returns the number of rows it affected (0 for other commands).
    @discardableResult
    public func execute(_ sql: String, _ params: [PostgresValue] = []) throws -> Int {
        try onQueue { try runQuery(sql, params).affected }
    }

    /// Runs several `;`-separated statements without parameters (simple query protocol), e.g. a migration.
    /// Must not contain transaction control when run inside `transaction`.
    public func executeScript(_ sql: String) throws {
        try onQueue { try runScript(sql, operation: "script \(Self.summary(sql))") }
    }

    /// Runs `body` in a transaction: BEGIN, COMMIT when it returns, ROLLBACK when it throws.
    /// Nested calls use savepoints. Throws if the body swallowed a statement error (the transaction was
    /// aborted) or if COMMIT fails; nothing reconnects inside the body.
    @discardableResult
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try onQueue {
            let depth = transactionDepth
            let savepoint = "hidiff_savepoint_\(depth)"
            try runScript(depth == 0 ? "BEGIN" : "SAVEPOINT \(savepoint)", operation: "begin transaction")
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            let value: T
            do {
                value = try body(self)
                if let conn, PQtransactionStatus(conn) == PQTRANS_INERROR {
                    throw PostgresError(sqlState: "25P02", message:
                        "transaction aborted by an earlier statement error that was caught inside the body")
                }
            } catch {
                if depth == 0 {
                    _ = try? runScript("ROLLBACK", operation: "rollback")
                } else {
                    _ = try? runScript("ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)",
                                   operation: "rollback to savepoint")
                }
                throw error
            }
            if depth == 0 {
                let tag = try runScript("COMMIT", operation: "commit")
                if tag == "ROLLBACK" {
                    throw PostgresError(sqlState: "25P02", message: "commit: the transaction had failed and was rolled back")
                }
            } else {
                try runScript("RELEASE SAVEPOINT \(savepoint)", operation: "release savepoint")
            }
            return value
        }
    }

    /// LISTENs on `channel`; remembered, so it is re-issued after every reconnect.
    public func listen(_ channel: String) throws {
        try onQueue {
            try runScript("LISTEN \(Self.quoteIdentifier(channel))", operation: "listen \(channel)")
            if !listening.contains(channel) { listening.append(channel) }
        }
    }

    /// Stops listening on `channel`.
    public func unlisten(_ channel: String) throws {
        try onQueue {
            listening.removeAll { $0 == channel }
            try runScript("UNLISTEN \(Self.quoteIdentifier(channel))", operation: "unlisten \(channel)")
        }
    }

    /// The next notification on a LISTENed channel, waiting up to `timeout` (poll() on the socket; other
    /// calls on this connection wait meanwhile, so give listeners their own connection). Returns nil on
    /// timeout, and also right after a reconnect (channels re-LISTENed; notifications sent while the
    /// connection was down are lost, so the caller should rescan whatever it was waiting for).
    public func waitForNotification(timeout: Duration) throws -> PostgresNotification? {
        try onQueue { try waitOnQueue(timeout: timeout.seconds) }
    }

    /// The server process id of the current session (changes after a reconnect); nil when closed.
    public var processID: Int32? {
        try? onQueue { () -> Int32? in
            guard let conn, PQstatus(conn) == CONNECTION_OK else { return nil }
            return PQbackendPID(conn)
        }
    }

    /// Closes the session; later calls throw. Safe to call twice.
    public func close() {
        _ = try? onQueue {
            if let conn { PQfinish(conn) }
            conn = nil
            closed = true
        }
    }

    /// `"name"` with embedded quotes doubled.
    public static func quoteIdentifier(_ identifier: String) -> String {
        "\"" + identifier.replacingAll("\"", with: "\"\"") + "\""
    }

    /// The first line-ish of a statement, whitespace collapsed, for error messages.
    static func summary(_ sql: String) -> String {
        let collapsed = sql.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.count > 120 ? String(collapsed.prefix(117)) + "..." : collapsed
    }
}
