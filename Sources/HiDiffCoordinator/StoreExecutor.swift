import Dispatch
import HiDiffPostgres
import HiDiffStore
import Logging

/// Runs blocking store calls on a thread of their own, never on Swift's cooperative pool or an event loop.
final class StoreExecutor: Sendable {
    let store: JobStore
    private let queue: DispatchQueue
    private let logger: Logger

    init(store: JobStore, label: String, logger: Logger) {
        self.store = store
        queue = DispatchQueue(label: label)
        self.logger = logger
    }

    /// `body` on the store's thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (JobStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.store) }) }
        }
    }

    /// `body`, retried with capped backoff while the database is unreachable (for writes that must land:
    /// results, failures, releases). Other errors, lease losses included, are thrown at once.
    func runRetrying<T: Sendable>(_ what: String, for seconds: Double = 120,
                                  _ body: @escaping @Sendable (JobStore) throws -> T) async throws -> T {
        var delay = 0.2
        let start = ContinuousClock.now
        while true {
            do { return try await run(body) } catch let error as PostgresError where error.isConnectionLoss {
                if ContinuousClock.now - start > .seconds(seconds) { throw error }
                logger.warning("database unreachable during \(what); retrying in \(delay) s", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 5)
            }
        }
    }
}
