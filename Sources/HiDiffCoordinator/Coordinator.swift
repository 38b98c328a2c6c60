import Foundation
import HiDiffModels
import HiDiffPostgres
import HiDiffProtocol
import HiDiffStore
import HiDiffTLS
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A coordinator process: accepts worker links, claims jobs for idle workers, and records what they report.
///
/// All decisions are made by one `Dispatcher` driven by one event loop (a single consumer of
/// `DispatcherEvent`s), so the lease logic never races with itself; sockets, timers and the database are the
/// edges that feed it events and carry out its actions.
public final class Coordinator: Sendable {
    public let configuration: CoordinatorConfiguration
    /// The latest preview of each job this coordinator runs (what its HTTP API serves).
    public let previews: LivePreviews
    /// Rejected connections and the time spent recording each step, for the HTTP server's `/metrics`.
    public let counters = CoordinatorCounters()
    private let databaseURL: String
    private let logger: Logger
    private let events: AsyncStream<DispatcherEvent>
    private let eventSink: AsyncStream<DispatcherEvent>.Continuation
    private let links = Mutex<[ConnectionID: AsyncStream<LinkInput>.Continuation]>([:])
    private let nextID = Mutex(0)
    private let boundPort = Mutex<Int?>(nil)

    public init(configuration: CoordinatorConfiguration, databaseURL: String, logger: Logger,
                previews: LivePreviews = LivePreviews()) {
        self.configuration = configuration
        self.previews = previews
        self.databaseURL = databaseURL
        var logger = logger
        if logger[metadataKey: "coordinator"] == nil { logger[metadataKey: "coordinator"] = "\(configuration.name)" }
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: DispatcherEvent.self)
    }

    /// The port the server listens on once `run` has bound it (useful with port 0).
    public var port: Int? { boundPort.withLock { $0 } }

    /// Serves until the task is cancelled or the listener fails.
    public func run() async throws {
        let store = StoreExecutor(
            store: JobStore(connection: try PostgresConnection(url: databaseURL, logger: logger)),
            label: "hidiff.coordinator.store", logger: logger)
        let tls = configuration.tls
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture { try tls?.addServerHandler(to: channel) }
                    .flatMap { LinkChannel.wrap(channel) }
            }
        boundPort.withLock { $0 = server.channel.localAddress?.port }
        logger.info("coordinator listening", metadata: [
            "address": "\(configuration.host):\(port ?? configuration.port)",
            "tls": "\(tls == nil ? "off" : tls!.isMutual ? "mutual" : "on")"])
        if let tls {
            logger.info("\(tls.summary)")
        } else {
            logger.warning("\(LinkTLS.plaintextWarning(links: "worker links"))")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.dispatch(store: store) }
            group.addTask { try await self.listenForWork() }
            group.addTask { try await self.maintain(store: store) }
            group.addTask {
                try await server.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await channel in inbound {
                            let id = ConnectionID(self.nextID.withLock { $0 += 1; return $0 })
                            connections.addTask { await self.serve(channel, id: id) }
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: The event loop

    private func dispatch(store: StoreExecutor) async throws {
        var dispatcher = Dispatcher(leaseSeconds: configuration.leaseSeconds,
                                    checkpointEvery: configuration.checkpointEvery, now: Self.now())
        for await event in events {
            for action in dispatcher.handle(event, now: Self.now()) {
                await perform(action, store: store)
            }
        }
        // Stopping (SIGTERM): give the jobs back now instead of letting their leases run out; the workers
        // lose their link and stop, and whoever claims a job next resumes it from its checkpoint.
        for lease in dispatcher.leases {
            await perform(.release(lease, reason: "coordinator \(configuration.name) stopped"), store: store)
        }
    }

    private func perform(_ action: DispatcherAction, store: StoreExecutor) async {
        let owner = configuration.name
        let lease = configuration.leaseSeconds
        do {
            switch action {
            case let .send(id, message):
                _ = links.withLock { $0[id]?.yield(.send(message)) }
            case let .close(id, reason):
                _ = links.withLock { $0[id]?.yield(.close(reason)) }
            case let .claim(id, worker, models, capacity):
                let jobs: [ClaimedJob]
                do {
                    jobs = try await store.run {
                        try $0.claim(owner: owner, worker: worker, models: models, limit: 1, lease: lease, capacity: capacity)
                    }
                } catch {
                    logger.error("claim for \(worker) failed: \(error)", metadata: ["worker": "\(worker)"])
                    jobs = []
                }
                for job in jobs {
                    logger.info("assigning job", metadata: ["job": "\(job.lease.jobID)", "attempt": "\(job.lease.attempt)", "worker": "\(worker)"])
                }
                eventSink.yield(.claimed(id, jobs))
            case let .setGroupSize(l, size):
                try await fenced(l) { try await store.runRetrying("group size") { try $0.setGroupSize(l, to: size) } }
            case let .recordGroup(l, names):
                try await fenced(l) { try await store.runRetrying("group") { try $0.recordGroup(l, workers: names) } }
                logger.info("sharded job grouped", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)", "workers": "\(names)"])
            case let .registerWorker(info):
                let registration = WorkerRegistration(
                    name: info.name, address: info.address, cores: Int(info.cores), memoryBytes: info.memoryBytes,
                    models: info.models.map(\.name), version: info.version, kernels: info.kernels,
                    peerAddress: info.peerAddress)
                try await store.runRetrying("worker registration") { try $0.registerWorker(registration, coordinator: owner) }
                logger.info("worker registered", metadata: ["worker": "\(info.name)", "models": "\(info.models.map(\.name))"])
            case let .workerStatus(name, state, job, step, rate):
                try await store.run { try $0.workerHeartbeat(name: name, state: state, currentJob: job, step: step, stepsPerSecond: rate) }
            case let .workerOffline(name):
                try await store.runRetrying("worker offline") { try $0.markWorkerOffline(name: name) }
                logger.info("worker left", metadata: ["worker": "\(name)"])
            case let .progress(l, step, total):
                let start = ContinuousClock.now
                try await fenced(l) { try await store.run { try $0.recordProgress(l, step: step, of: total, leaseSeconds: lease) } }
                let spent = ContinuousClock.now - start
                counters.recordedStep(seconds: Double(spent.components.seconds) + Double(spent.components.attoseconds) / 1e18)
                logger.debug("progress", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)", "step": "\(step)/\(total)"])
            case let .preview(l, step, steps, png):
                previews.record(jobID: l.jobID, attempt: l.attempt, step: step, steps: steps, png: png)
            case let .checkpoint(l, step, state):
                try await fenced(l) { try await store.runRetrying("checkpoint") { try $0.saveCheckpoint(l, step: step, state: state) } }
                logger.debug("checkpoint saved", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)", "step": "\(step)"])
            case let .complete(l, png, latents, metadata):
                previews.remove(jobID: l.jobID)
                let bytes = try SafeTensorsWriter.serialize([("latents", latents.tensor)])
                try await fenced(l) {
                    try await store.runRetrying("result") { try $0.complete(l, png: png, latents: bytes, metadataJSON: metadata) }
                }
                logger.info("job succeeded", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)"])
            case let .fail(l, error, retryable):
                previews.remove(jobID: l.jobID)
                try await fenced(l) {
                    let state = try await store.runRetrying("failure") { try $0.fail(l, error: error, retryable: retryable) }
                    self.logger.warning("job attempt failed (\(state.rawValue) now): \(error)", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)"])
                    if state == .queued { self.eventSink.yield(.wake) }
                }
            case let .cancelled(l):
                previews.remove(jobID: l.jobID)
                try await fenced(l) { try await store.runRetrying("cancel") { try $0.markCancelled(l) } }
                logger.info("job cancelled", metadata: ["job": "\(l.jobID)"])
            case let .release(l, reason):
                previews.remove(jobID: l.jobID)
                try await fenced(l) { _ = try await store.runRetrying("release") { try $0.release(l, reason: reason) } }
                logger.info("job released to the queue: \(reason)", metadata: ["job": "\(l.jobID)", "attempt": "\(l.attempt)"])
                eventSink.yield(.wake)
            case let .renew(leases):
                for l in leases { try await fenced(l) { try await store.run { try $0.renew(l, for: lease) } } }
            case let .pollCancels(leases):
                let asked = try await store.run { try $0.cancelRequested(leases) }
                if !asked.isEmpty { eventSink.yield(.cancelRequested(asked)) }
            case let .pollDrains(names):
                let draining = try await store.run { s in try names.filter { try s.workerState(name: $0) == "draining" } }
                if !draining.isEmpty { eventSink.yield(.drainRequested(draining)) }
            case let .log(text):
                logger.notice("\(text)")
            }
        } catch {
            logger.error("\(Self.describe(action)) failed: \(error)", metadata: Self.metadata(action))
        }
    }

    /// Runs a fenced write; a lost lease becomes an event (the job is someone else's now).
    private func fenced(_ lease: Lease, _ body: () async throws -> Void) async throws {
        do { try await body() } catch StoreError.leaseLost {
            eventSink.yield(.leaseLost(lease))
        }
    }

    private static func describe(_ action: DispatcherAction) -> String {
        String("\(action)".prefix(while: { $0 != "(" }))
    }

    /// The job and attempt an action is about, as log metadata.
    private static func metadata(_ action: DispatcherAction) -> Logger.Metadata {
        switch action {
        case let .setGroupSize(l, _), let .recordGroup(l, _), let .progress(l, _, _), let .checkpoint(l, _, _),
             let .complete(l, _, _, _), let .fail(l, _, _), let .cancelled(l), let .release(l, _), let .preview(l, _, _, _):
            ["job": "\(l.jobID)", "attempt": "\(l.attempt)"]
        case let .registerWorker(info): ["worker": "\(info.name)"]
        case let .workerStatus(name, _, _, _, _), let .workerOffline(name): ["worker": "\(name)"]
        default: [:]
        }
    }

    // MARK: Timers and notifications

    /// Wakes the dispatcher on a NOTIFY, or every poll interval when none comes (notifications are lost while
    /// the listening connection is down).
    private func listenForWork() async throws {
        let connection = try PostgresConnection(url: databaseURL, logger: logger)
        defer { connection.close() }
        try await connection.listen("hidiff_jobs")
        while !Task.isCancelled {
            do {
                _ = try await connection.waitForNotification(timeout: .milliseconds(Int(configuration.pollSeconds * 1000)))
            } catch {
                logger.warning("waiting for job notifications failed: \(error)")
                try await Task.sleep(for: .seconds(configuration.pollSeconds))
            }
            eventSink.yield(.wake)
        }
    }

    /// Ticks the dispatcher and rescues expired leases (any coordinator may: the claim is atomic).
    private func maintain(store: StoreExecutor) async throws {
        var lastRescue = ContinuousClock.now
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(250))
            eventSink.yield(.tick)
            if ContinuousClock.now - lastRescue > .seconds(2) {
                lastRescue = .now
                do {
                    let rescued = try await store.run { try $0.rescueExpired() }
                    if !rescued.isEmpty {
                        logger.notice("rescued jobs with expired leases: \(rescued)", metadata: ["jobs": "\(rescued)"])
                        eventSink.yield(.wake)
                    }
                } catch { logger.warning("rescue failed: \(error)") }
            }
        }
    }

    static func now() -> Double { ProcessInfo.processInfo.systemUptime }

    // MARK: Worker links

    private func serve(_ link: LinkChannel, id: ConnectionID) async {
        let peer = link.peer
        let (inputs, input) = AsyncStream.makeStream(of: LinkInput.self)
        links.withLock { $0[id] = input }
        var registered = false
        var reason = "closed"
        let nonce = TokenAuth.makeNonce()
        var state = CoordinatorLink(coordinatorName: configuration.name, token: configuration.token,
                                   heartbeatSeconds: configuration.heartbeatSeconds,
                                   deadAfter: 3 * configuration.heartbeatSeconds, now: Self.now(), nonce: nonce)
        do {
            try await link.channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await LinkInput.pump(inbound, into: input) }
                    group.addTask { await LinkInput.ticks(into: input) }
                    var queue: [CoordinatorLink.Action] = []
                    var iterator = inputs.makeAsyncIterator()
                    loop: while true {
                        while !queue.isEmpty {
                            switch queue.removeFirst() {
                            case let .send(message): try await outbound.write(message)
                            case let .close(why):
                                reason = why
                                break loop
                            case let .registered(info):
                                registered = true
                                link.authenticated()
                                eventSink.yield(.registered(id, info))
                            case let .deliver(message):
                                eventSink.yield(.message(id, message))
                            }
                        }
                        guard let event = await iterator.next() else { break loop }
                        switch event {
                        case let .inbound(message): queue = state.received(message, now: Self.now())
                        case .tick: queue = state.tick(now: Self.now())
                        case let .send(message): queue = state.send(message)
                        case let .close(why): queue = state.close(reason: why)
                        case let .ended(why):
                            reason = why
                            break loop
                        }
                    }
                    outbound.finish()
                    group.cancelAll()
                }
            }
        } catch {
            reason = "\(error)"
        }
        links.withLock { $0[id] = nil }
        input.finish()
        if registered {
            eventSink.yield(.disconnected(id, reason: reason))
        } else {
            counters.rejectedConnection()
            logger.warning("closed an unauthenticated connection from \(peer): \(reason)", metadata: ["peer": "\(peer)"])
        }
    }
}
