import Dispatch
import Foundation
import Logging

/// SIGTERM and SIGINT for long-running commands. A service that drains (the worker) is told through
/// `onSignal` and ends when its work is put away; one that does not (the coordinator: its leases expire and
/// another coordinator rescues them) is cancelled at once.
enum ShutdownSignal {
    static func run(logger: Logger, drains: Bool, _ body: @escaping @Sendable () async throws -> Void,
                    onSignal: @escaping @Sendable () -> Void = {}) async throws {
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                var count = 0
                for await number in signals {
                    count += 1
                    logger.notice("signal \(number): \(drains && count == 1 ? "draining (send again to stop now)" : "stopping")")
                    if drains && count == 1 { onSignal() } else { return false }
                }
                return false
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
