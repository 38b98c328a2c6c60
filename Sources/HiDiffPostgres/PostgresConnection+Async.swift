/// `async` mirrors of the synchronous API: the blocking work runs on the connection's own queue and the
/// calling task suspends meanwhile (no cooperative-pool thread is blocked). Task cancellation is not
/// propagated to a statement already running.
extension PostgresConnection {
    /// Async `query`: runs on the connection's queue.
    public func query(_ sql: String, _ params: [PostgresValue] = []) async throws -> [PostgresRow] {
        try await onQueueAsync { try self.runQuery(sql, params).rows }
    }

    /// Async `execute`: rows affected.
    @discardableResult
    public func execute(_ sql: String, _ params: [PostgresValue] = []) async throws -> Int {
        try await onQueueAsync { try self.runQuery(sql, params).affected }
    }

    /// Async `executeScript`.
    public func executeScript(_ sql: String) async throws {
        try await onQueueAsync { try self.executeScript(sql) }
    }

    /// Async `transaction`: `body` (synchronous) runs on the connection's queue inside BEGIN/COMMIT.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onQueueAsync { try self.transaction(body) }
    }

    /// Async `listen`.
    public func listen(_ channel: String) async throws {
        try await onQueueAsync { try self.listen(channel) }
    }

    /// Async `waitForNotification`: the wait blocks the connection's queue, not the caller's thread.
    public func waitForNotification(timeout: Duration) async throws -> PostgresNotification? {
        try await onQueueAsync { try self.waitOnQueue(timeout: timeout.seconds) }
    }

    /// Runs any synchronous work with this connection on its queue, e.g. a `JobStore` call.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onQueueAsync { try body(self) }
    }
}
