import HiDiffProtocol
import HiDiffStore

/// The coordinator's lease and assignment logic, with no IO: events in, actions out.
///
/// A worker is idle, claiming (a claim is in flight for it), or running one job. The dispatcher claims a
/// job for an idle worker only (so nothing is claimed that no free worker can run), sends the assignment,
/// and turns the worker's messages into fenced store writes. Every message from a worker names
/// (job, attempt); anything that is not the job this coordinator assigned to that worker is dropped, which
/// mirrors the database fence on the wire.
public struct Dispatcher: Sendable {
    /// Seconds a lease lasts before another coordinator may rescue the job.
    public let leaseSeconds: Double
    /// Steps between latent checkpoints sent by the workers.
    public let checkpointEvery: Int

    enum Slot: Sendable, Equatable {
        case idle
        case claiming
        case running(Lease)
        /// The job was taken from us (lease lost) or cancelled; waiting for the worker to stop it.
        case stopping(Lease)
    }

    struct WorkerEntry: Sendable {
        var info: WorkerInfo
        var slot: Slot = .idle
        var draining = false
        var step = 0
        var lastStepAt: Double?
        var stepsPerSecond: Double?
    }

    struct HeldJob: Sendable {
        var connection: ConnectionID
        var cancelSent = false
    }

    var workers: [ConnectionID: WorkerEntry] = [:]
    var held: [Lease: HeldJob] = [:]
    var lastRenew: Double
    var lastPoll: Double
    var lastStatus: Double

    public init(leaseSeconds: Double, checkpointEvery: Int, now: Double) {
        self.leaseSeconds = leaseSeconds
        self.checkpointEvery = checkpointEvery
        lastRenew = now
        lastPoll = now
        lastStatus = now
    }

    /// The leases this coordinator holds now.
    public var leases: [Lease] { Array(held.keys) }
    /// Connections with a registered worker.
    public var connections: [ConnectionID] { Array(workers.keys) }

    public mutating func handle(_ event: DispatcherEvent, now: Double) -> [DispatcherAction] {
        switch event {
        case let .registered(id, info):
            workers[id] = WorkerEntry(info: info)
            return [.registerWorker(info)] + claimIfIdle(id)
        case let .disconnected(id, reason):
            guard let entry = workers.removeValue(forKey: id) else { return [] }
            var actions: [DispatcherAction] = [.workerOffline(name: entry.info.name)]
            switch entry.slot {
            case let .running(lease), let .stopping(lease):
                if held.removeValue(forKey: lease) != nil {
                    actions.append(.release(lease, reason: "worker \(entry.info.name) disconnected: \(reason)"))
                }
            case .idle, .claiming: break
            }
            return actions
        case let .claimed(id, jobs):
            return assign(jobs, to: id)
        case .wake:
            return workers.keys.sorted { $0.value < $1.value }.flatMap { claimIfIdle($0) }
        case let .cancelRequested(leases):
            var actions: [DispatcherAction] = []
            for lease in leases {
                guard var job = held[lease], !job.cancelSent else { continue }
                job.cancelSent = true
                held[lease] = job
                actions.append(.send(job.connection, .cancel(jobID: lease.jobID, attempt: Int32(lease.attempt))))
            }
            return actions
        case let .drainRequested(names):
            var actions: [DispatcherAction] = []
            for (id, entry) in workers where names.contains(entry.info.name) && !entry.draining {
                workers[id]?.draining = true
                actions.append(.send(id, .drain))
            }
            return actions
        case let .leaseLost(lease):
            guard let job = held.removeValue(forKey: lease) else { return [] }
            workers[job.connection]?.slot = .stopping(lease)
            return [.log("lease lost on job \(lease.jobID) attempt \(lease.attempt): another coordinator owns it; stopping it on its worker"),
                    .send(job.connection, .cancel(jobID: lease.jobID, attempt: Int32(lease.attempt)))]
        case let .message(id, message):
            return received(message, from: id, now: now)
        case .tick:
            return tick(now: now)
        }
    }

    private mutating func tick(now: Double) -> [DispatcherAction] {
        var actions: [DispatcherAction] = []
        if now - lastRenew >= leaseSeconds / 3, !held.isEmpty {
            lastRenew = now
            actions.append(.renew(Array(held.keys)))
        }
        if now - lastPoll >= 1 {
            lastPoll = now
            if !held.isEmpty { actions.append(.pollCancels(Array(held.keys))) }
            let names = workers.values.filter { !$0.draining }.map(\.info.name)
            if !names.isEmpty { actions.append(.pollDrains(names)) }
        }
        if now - lastStatus >= 2 {
            lastStatus = now
            for entry in workers.values { actions.append(status(entry)) }
        }
        return actions
    }

    private func status(_ entry: WorkerEntry) -> DispatcherAction {
        let state: String
        var job: Int64?
        switch entry.slot {
        case .idle, .claiming: state = entry.draining ? "draining" : "idle"
        case let .running(lease), let .stopping(lease):
            state = entry.draining ? "draining" : "busy"
            job = lease.jobID
        }
        return .workerStatus(name: entry.info.name, state: state, job: job, step: job == nil ? nil : entry.step,
                             stepsPerSecond: entry.stepsPerSecond)
    }

    private mutating func claimIfIdle(_ id: ConnectionID) -> [DispatcherAction] {
        guard let entry = workers[id], entry.slot == .idle, !entry.draining else { return [] }
        workers[id]?.slot = .claiming
        return [.claim(id, worker: entry.info.name, models: entry.info.models.map(\.name))]
    }

    private mutating func assign(_ jobs: [ClaimedJob], to id: ConnectionID) -> [DispatcherAction] {
        guard let entry = workers[id], entry.slot == .claiming, !entry.draining, let job = jobs.first else {
            // The worker left or began draining while the claim ran: give the jobs back.
            if workers[id]?.slot == .claiming { workers[id]?.slot = .idle }
            return jobs.map { .release($0.lease, reason: "worker left before the assignment") }
        }
        var actions: [DispatcherAction] = jobs.dropFirst().map { .release($0.lease, reason: "claimed one too many") }
        workers[id]?.slot = .running(job.lease)
        workers[id]?.step = job.checkpoint?.step ?? 0
        workers[id]?.lastStepAt = nil
        held[job.lease] = HeldJob(connection: id)
        let assignment = Assignment(
            jobID: job.lease.jobID, attempt: Int32(job.lease.attempt), model: job.model,
            requestJSON: job.requestJSON, initImage: job.initImage, checkpoint: job.checkpoint?.state,
            checkpointStep: job.checkpoint.map { Int32($0.step) }, checkpointEvery: Int32(checkpointEvery))
        actions.append(.send(id, .assign(assignment)))
        actions.append(status(workers[id]!))
        return actions
    }

    /// The lease of the job `id` is running (or stopping) if the message names it.
    private func lease(of id: ConnectionID, jobID: Int64, attempt: Int32) -> (Lease, running: Bool)? {
        switch workers[id]?.slot {
        case let .running(lease)? where lease.jobID == jobID && lease.attempt == Int(attempt): (lease, true)
        case let .stopping(lease)? where lease.jobID == jobID && lease.attempt == Int(attempt): (lease, false)
        default: nil
        }
    }

    private mutating func received(_ message: Message, from id: ConnectionID, now: Double) -> [DispatcherAction] {
        guard workers[id] != nil else { return [] }
        switch message {
        case let .accepted(jobID, attempt):
            guard lease(of: id, jobID: jobID, attempt: attempt) != nil else { return staleMessage("accepted", jobID, attempt, id) }
            return []
        case let .progress(jobID, attempt, step, total):
            guard let (lease, running) = lease(of: id, jobID: jobID, attempt: attempt) else {
                return staleMessage("progress", jobID, attempt, id)
            }
            if let last = workers[id]?.lastStepAt, let previous = workers[id]?.step, Int(step) > previous {
                let rate = Double(Int(step) - previous) / max(now - last, 1e-6)
                let old = workers[id]?.stepsPerSecond
                workers[id]?.stepsPerSecond = old.map { 0.7 * $0 + 0.3 * rate } ?? rate
            }
            workers[id]?.step = Int(step)
            workers[id]?.lastStepAt = now
            return running ? [.progress(lease, step: Int(step), total: Int(total))] : []
        case let .checkpoint(jobID, attempt, step, state):
            guard let (lease, running) = lease(of: id, jobID: jobID, attempt: attempt) else {
                return staleMessage("checkpoint", jobID, attempt, id)
            }
            // A stopping job still saves its checkpoint if we hold it (a cancel does not; a lost lease cannot).
            return running || held[lease] != nil ? [.checkpoint(lease, step: Int(step), state: state)] : []
        case let .result(jobID, attempt, png, latents, metadata):
            guard let (lease, _) = lease(of: id, jobID: jobID, attempt: attempt) else {
                return staleMessage("result", jobID, attempt, id)
            }
            let ours = held.removeValue(forKey: lease) != nil
            workers[id]?.slot = .idle
            return (ours ? [.complete(lease, png: png, latents: latents, metadataJSON: metadata)] : [])
                + finishedWork(id)
        case let .failed(jobID, attempt, error, retryable):
            guard let (lease, _) = lease(of: id, jobID: jobID, attempt: attempt) else {
                return staleMessage("failed", jobID, attempt, id)
            }
            let job = held.removeValue(forKey: lease)
            workers[id]?.slot = .idle
            var actions: [DispatcherAction] = []
            if let job {
                actions.append(job.cancelSent ? .cancelled(lease) : .fail(lease, error: error, retryable: retryable))
            }
            return actions + finishedWork(id)
        case .heartbeat, .goodbye:
            return []
        case .hello, .challenge, .proof, .welcome, .register, .assign, .cancel, .drain:
            return [.close(id, reason: "worker sent a coordinator-only message")]
        }
    }

    /// After a job ends on a worker: claim again, or let a draining worker go.
    private mutating func finishedWork(_ id: ConnectionID) -> [DispatcherAction] {
        guard let entry = workers[id] else { return [] }
        if entry.draining { return [status(entry)] }
        return [status(entry)] + claimIfIdle(id)
    }

    private func staleMessage(_ kind: String, _ jobID: Int64, _ attempt: Int32, _ id: ConnectionID) -> [DispatcherAction] {
        [.log("dropped \(kind) for job \(jobID) attempt \(attempt) from \(workers[id]?.info.name ?? "\(id)"): not the job assigned to it")]
    }
}
