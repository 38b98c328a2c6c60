import Foundation
import HiDiffProtocol
import HiDiffTLS
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
        var logger = logger
        if logger[metadataKey: "worker"] == nil { logger[metadataKey: "worker"] = "\(configuration.name)" }
        self.logger = logger
    }

    /// How a session ended: leave, or dial again (`refused`: before joining, so the backoff keeps growing
    /// instead of hammering a coordinator that refuses this worker's certificate or token).
    private enum SessionEnd { case exit, reconnect, refused }

    /// Runs until drained or shut down.
    public func run() async throws {
        if let tls = configuration.tls {
            logger.info("\(tls.summary)")
        } else {
            logger.warning("\(LinkTLS.plaintextWarning(links: group == nil ? "the coordinator link" : "the coordinator link and group links"))")
        }
        var index = 0
        var backoff = configuration.initialBackoff
        while !shuttingDown.withLock({ $0 }) {
            // A job stopped by a lost link may still be finishing its step; never run two at once.
            while current.withLock({ $0 != nil }) { try await Task.sleep(for: .milliseconds(50)) }
            let endpoint = configuration.coordinators[index % configuration.coordinators.count]
            do {
                switch try await session(with: endpoint) {
                case .exit: return
                case .reconnect: backoff = configuration.initialBackoff
                case .refused: break
                }
            } catch where LinkTLS.isTLSFailure(error) {
                logger.error("TLS with coordinator \(endpoint) failed: \(error); check that its certificate is signed by --tls-ca and names \(endpoint.host), and that this worker's certificate is signed by the CA the coordinator trusts",
                             metadata: ["coordinator": "\(endpoint)"])
            } catch {
                logger.warning("link to coordinator \(endpoint) failed: \(error)", metadata: ["coordinator": "\(endpoint)"])
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
            logger.notice("shutting down: stopping job \(runner.assignment.jobID) at the next step",
                          metadata: ["job": "\(runner.assignment.jobID)", "attempt": "\(runner.assignment.attempt)"])
            runner.stop(.shuttingDown)
        } else {
            _ = sink.withLock { $0?.yield(.close("worker shutting down")) }
        }
    }

    private func session(with endpoint: WorkerConfiguration.Endpoint) async throws -> SessionEnd {
        let tls = configuration.tls
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture { try tls?.addClientHandler(to: channel, host: endpoint.host) }
                    .flatMap { LinkChannel.wrap(channel) }
            }
        logger.info("connected to coordinator \(endpoint)", metadata: ["coordinator": "\(endpoint)", "tls": "\(tls == nil ? "off" : "on")"])
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
        var joined = false
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
                            joined = true
                            logger.info("joined coordinator \(coordinator)", metadata: ["coordinator": "\(endpoint)"])
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
        if joined {
            logger.info("left coordinator \(endpoint): \(reason)", metadata: ["coordinator": "\(endpoint)"])
            return end
        }
        // Refused before the token handshake ended: a wrong token, or TLS (a certificate the coordinator does
        // not accept arrives as an alert after the TLS handshake).
        let hint = tls == nil ? "" : "; with TLS, check that the coordinator's certificate is signed by --tls-ca and names \(endpoint.host), and that this worker's certificate is signed by the CA the coordinator trusts"
        logger.warning("could not join coordinator \(endpoint): \(reason)\(hint)", metadata: ["coordinator": "\(endpoint)"])
        return end == .exit ? .exit : .refused
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
                logger.info("cancelling job \(jobID)", metadata: ["job": "\(jobID)", "attempt": "\(attempt)"])
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
