import Foundation
import HiDiffProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A worker process: joins a coordinator (any of those listed, reconnecting when a link drops), proves the
/// cluster token, registers what it offers, and runs one job at a time on a compute thread.
public final class Worker: Sendable {
    public let configuration: WorkerConfiguration
    public let models: ModelCache
    /// Set when this worker takes part in sharded jobs (`--peer-listen`).
    public let group: GroupLinks?
    private let logger: Logger
    private let current = Mutex<JobRunner?>(nil)
    private let sink = Mutex<AsyncStream<LinkInput>.Continuation?>(nil)
    /// SIGTERM: checkpoint the current job at the next step and leave.
    private let shuttingDown = Mutex(false)
    /// Admin drain: finish the current job, take no new one, leave.
    private let draining = Mutex(false)

    public init(configuration: WorkerConfiguration, models: ModelCache, group: GroupLinks? = nil, logger: Logger) {
        self.configuration = configuration
        self.models = models
        self.group = group
        self.logger = logger
    }

    private enum SessionEnd { case exit, reconnect }

    /// Runs until drained or shut down.
    public func run() async throws {
        var index = 0
        var backoff = configuration.initialBackoff
        while !shuttingDown.withLock({ $0 }) {
            // A job stopped by a lost link may still be finishing its step; never run two at once.
            while current.withLock({ $0 != nil }) { try await Task.sleep(for: .milliseconds(50)) }
            let endpoint = configuration.coordinators[index % configuration.coordinators.count]
            do {
                if try await session(with: endpoint) == .exit { return }
                backoff = configuration.initialBackoff
            } catch {
                logger.warning("link to coordinator \(endpoint) failed: \(error)")
            }
            current.withLock { $0 }?.stop(.linkLost)
            index += 1
            try await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
    }

    /// SIGTERM: the current job checkpoints at its next step boundary and the worker leaves.
    public func shutDown() {
        shuttingDown.withLock { $0 = true }
        if let runner = current.withLock({ $0 }) {
            logger.notice("shutting down: stopping job \(runner.assignment.jobID) at the next step")
            runner.stop(.shuttingDown)
        } else {
            _ = sink.withLock { $0?.yield(.close("worker shutting down")) }
        }
    }

    private func session(with endpoint: WorkerConfiguration.Endpoint) async throws -> SessionEnd {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: endpoint.host, port: endpoint.port) { LinkChannel.wrap($0) }
        logger.info("connected to coordinator \(endpoint)")
        let (inputs, input) = AsyncStream.makeStream(of: LinkInput.self)
        sink.withLock { $0 = input }
        defer {
            sink.withLock { $0 = nil }
            input.finish()
        }
        let nonce = TokenAuth.makeNonce()
        var link = WorkerLink(workerName: configuration.name, token: configuration.token, now: Self.now(), nonce: nonce)
        var end = SessionEnd.reconnect
        var reason = "closed"
        try await channel.channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await LinkInput.pump(inbound, into: input) }
                group.addTask { await LinkInput.ticks(into: input) }
                var queue = link.start()
                var iterator = inputs.makeAsyncIterator()
                loop: while true {
                    while !queue.isEmpty {
                        switch queue.removeFirst() {
                        case let .send(message): try await outbound.write(message)
                        case let .close(why):
                            reason = why
                            break loop
                        case let .authenticated(coordinator, _):
                            channel.authenticated()
                            logger.info("joined coordinator \(coordinator)")
                            queue += link.send(.register(info))
                        case let .deliver(message):
                            for reply in handle(message) { queue += link.send(reply) }
                        }
                    }
                    if leaving {
                        end = .exit
                        queue = link.close(reason: shuttingDown.withLock { $0 } ? "worker shutting down" : "worker drained")
                        continue
                    }
                    guard let event = await iterator.next() else { break loop }
                    switch event {
                    case let .inbound(message): queue = link.received(message, now: Self.now())
                    case .tick:
                        link.heartbeatState = heartbeatState
                        queue = link.tick(now: Self.now())
                    case let .send(message): queue = link.send(message)
                    case let .close(why):
                        end = .exit
                        queue = link.close(reason: why)
                    case let .ended(why):
                        reason = why
                        break loop
                    }
                }
                outbound.finish()
                group.cancelAll()
            }
        }
        logger.info("left coordinator \(endpoint): \(reason)")
        return end
    }

    /// Idle and asked to leave (drained or shutting down).
    private var leaving: Bool {
        current.withLock { $0 == nil } && (draining.withLock { $0 } || shuttingDown.withLock { $0 })
    }

    private var heartbeatState: WorkerLinkState {
        guard let runner = current.withLock({ $0 }) else { return WorkerLinkState(draining: draining.withLock { $0 }) }
        return WorkerLinkState(busyJobID: runner.assignment.jobID, attempt: runner.assignment.attempt,
                               draining: draining.withLock { $0 })
    }

    private var info: WorkerInfo {
        WorkerInfo(name: configuration.name, address: configuration.address, cores: Int32(configuration.cores),
                   memoryBytes: configuration.memoryBytes, version: configuration.version,
                   kernels: configuration.kernels, models: models.catalog.infos, peerAddress: group?.advertisedAddress)
    }

    /// A coordinator's message after registration; returns the immediate replies.
    private func handle(_ message: Message) -> [Message] {
        switch message {
        case let .assign(assignment):
            let refuse: String? = current.withLock { $0 != nil } ? "busy with another job"
                : (draining.withLock { $0 } || shuttingDown.withLock { $0 }) ? "draining" : nil
            if let refuse {
                return [.failed(jobID: assignment.jobID, attempt: assignment.attempt,
                                message: "worker \(configuration.name) is \(refuse)", retryable: true)]
            }
            let runner = JobRunner(assignment: assignment, previewEvery: configuration.previewEvery)
            current.withLock { $0 = runner }
            logger.info("running job", metadata: ["job": "\(assignment.jobID)", "attempt": "\(assignment.attempt)",
                                                  "model": "\(assignment.model)", "resume_step": "\(assignment.checkpointStep.map { "\($0)" } ?? "-")",
                                                  "rank": "\(assignment.group.map { "\($0.rank)/\($0.size)" } ?? "-")"])
            runner.start(models: models, group: group, emit: { [self] message in
                _ = sink.withLock { $0?.yield(.send(message)) }
            }, finished: { [self] final in
                // Free before the final message leaves: the coordinator answers a result with a new assignment.
                current.withLock { $0 = nil }
                sink.withLock { sink in
                    if let final { sink?.yield(.send(final)) }
                    // Wake the link loop so a draining worker notices it is idle (after its result is out).
                    sink?.yield(.tick)
                }
            })
            return [.accepted(jobID: assignment.jobID, attempt: assignment.attempt)]
        case let .cancel(jobID, attempt):
            if let runner = current.withLock({ $0 }), runner.assignment.jobID == jobID, runner.assignment.attempt == attempt {
                logger.info("cancelling job \(jobID)")
                runner.stop(.cancelled)
            }
            return []
        case .drain:
            logger.notice("drain requested: finishing the current job, then leaving")
            draining.withLock { $0 = true }
            return []
        default:
            return []
        }
    }

    static func now() -> Double { ProcessInfo.processInfo.systemUptime }
}
