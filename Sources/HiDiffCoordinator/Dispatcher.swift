import HiDiffProtocol
import HiDiffStore

/// The coordinator's lease and assignment logic, with no IO: events in, actions out.
///
/// A worker is idle, claiming (a claim is in flight for it), or running one job. The dispatcher claims a
/// job for an idle worker only (so nothing is claimed that no free worker can run), sends the assignment,
/// and turns the worker's messages into fenced store writes. Every message from a worker names
/// (job, attempt); anything that is not the job this coordinator assigned to that worker is dropped, which
/// mirrors the database fence on the wire.
///
/// One claim is in flight at a time, so the idle workers it counts stay idle until it returns: a job
/// sharded over K workers (its group) is claimed only when K idle workers offer its model, and all K are
/// assigned at once, each with its rank. Rank 0 (the leader) reports progress, checkpoints and the result;
/// the others report `memberDone`. The job's fate is decided by the first decisive event (the leader's
/// result or failure, a member's failure, a member lost); the remaining members are told to stop and stay
/// busy until they say they have.
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
        /// The leader (rank 0; the only member of an unsharded job).
        var connection: ConnectionID
        /// Every member in rank order (the leader first).
        var members: [ConnectionID]
        var cancelSent = false
    }

    var workers: [ConnectionID: WorkerEntry] = [:]
    var held: [Lease: HeldJob] = [:]
    /// The worker a claim is in flight for (at most one at a time).
    var claimInFlight: ConnectionID?
    /// Idle workers whose last claim found nothing, since the last wake: not asked again until one.
    var foundNothing: Set<ConnectionID> = []
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
            return [.registerWorker(info)] + claimNext()
        case let .disconnected(id, reason):
            guard let entry = workers.removeValue(forKey: id) else { return [] }
            foundNothing.remove(id)
            var actions: [DispatcherAction] = [.workerOffline(name: entry.info.name)]
            switch entry.slot {
            case let .running(lease), let .stopping(lease):
                if let job = held.removeValue(forKey: lease) {
                    actions.append(.release(lease, reason: "worker \(entry.info.name) disconnected: \(reason)"))
                    actions += stopOthers(of: job, lease: lease, except: id)
                }
            case .claiming:
                if claimInFlight == id { claimInFlight = nil }
            case .idle: break
            }
            return actions + claimNext()
        case let .claimed(id, jobs):
            if claimInFlight == id { claimInFlight = nil }
            if jobs.isEmpty, workers[id] != nil { foundNothing.insert(id) }
            return assign(jobs, to: id) + claimNext()
        case .wake:
            foundNothing = []
            return claimNext()
        case let .cancelRequested(leases):
            var actions: [DispatcherAction] = []
            for lease in leases {
                guard var job = held[lease], !job.cancelSent else { continue }
                job.cancelSent = true
                held[lease] = job
                for member in job.members {
                    actions.append(.send(member, .cancel(jobID: lease.jobID, attempt: Int32(lease.attempt))))
                }
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
            return [.log("lease lost on job \(lease.jobID) attempt \(lease.attempt): another coordinator owns it; stopping it on its worker")]
                + stopOthers(of: job, lease: lease, except: nil)
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

    private func canClaim(_ id: ConnectionID) -> Bool {
        guard let entry = workers[id] else { return false }
        return entry.slot == .idle && !entry.draining
    }

    /// Starts a claim for the first idle worker that has not come back empty since the last wake, unless
    /// one is in flight. `capacity` counts, per model, the idle workers that could join its group.
    private mutating func claimNext() -> [DispatcherAction] {
        guard claimInFlight == nil,
              let id = workers.keys.filter({ canClaim($0) && !foundNothing.contains($0) }).min(by: { $0.value < $1.value }),
              let entry = workers[id] else { return [] }
        workers[id]?.slot = .claiming
        claimInFlight = id
        var capacity: [String: Int] = [:]
        for model in entry.info.models.map(\.name) {
            capacity[model] = entry.info.peerAddress == nil ? 1 : 1 + recruits(for: model, leader: id).count
        }
        return [.claim(id, worker: entry.info.name, models: entry.info.models.map(\.name), capacity: capacity)]
    }

    /// Idle workers other than `leader` that offer `model` and accept peer links, in connection order.
    private func recruits(for model: String, leader: ConnectionID) -> [ConnectionID] {
        workers.keys.filter { id in
            guard id != leader, canClaim(id), let e = workers[id], e.info.peerAddress != nil else { return false }
            return e.info.models.contains { $0.name == model }
        }.sorted { $0.value < $1.value }
    }

    /// Sends cancel to the members of `job` that are still on it (but `except`), marking them stopping.
    private mutating func stopOthers(of job: HeldJob, lease: Lease, except: ConnectionID?) -> [DispatcherAction] {
        var actions: [DispatcherAction] = []
        for member in job.members where member != except {
            switch workers[member]?.slot {
            case .running(let l)? where l == lease, .stopping(let l)? where l == lease:
                workers[member]?.slot = .stopping(lease)
                actions.append(.send(member, .cancel(jobID: lease.jobID, attempt: Int32(lease.attempt))))
            default: break
            }
        }
        return actions
    }

    private mutating func assign(_ jobs: [ClaimedJob], to id: ConnectionID) -> [DispatcherAction] {
        guard let entry = workers[id], entry.slot == .claiming, !entry.draining, let job = jobs.first else {
            // The worker left or began draining while the claim ran: give the jobs back.
            if workers[id]?.slot == .claiming { workers[id]?.slot = .idle }
            return jobs.map { .release($0.lease, reason: "worker left before the assignment") }
        }
        var actions: [DispatcherAction] = jobs.dropFirst().map { .release($0.lease, reason: "claimed one too many") }
        var members = [id]
        var size = job.groupSize ?? 1
        if job.groupSize == nil {
            switch GroupSizing.choose(job, leader: entry.info) {
            case .fits(let k): size = k
            case .cannotFit(let reason):
                workers[id]?.slot = .idle
                return actions + [.fail(job.lease, error: reason, retryable: false), status(workers[id]!)]
            }
        }
        if size > 1 {
            let others = recruits(for: job.model, leader: id)
            guard others.count >= size - 1, entry.info.peerAddress != nil else {
                // Not enough free workers now (or one left while the claim ran): give the job back with its
                // size fixed, so it is claimed again only when that many are free.
                workers[id]?.slot = .idle
                let fixed: [DispatcherAction] = job.groupSize == nil ? [.setGroupSize(job.lease, size)] : []
                return actions + fixed + [.release(job.lease, reason: "waiting for \(size) free workers offering \(job.model)")]
            }
            members += others.prefix(size - 1)
        }
        held[job.lease] = HeldJob(connection: id, members: members)
        let peers = members.map { workers[$0]?.info.peerAddress ?? "" }
        let names = members.map { workers[$0]?.info.name ?? "" }
        if members.count > 1 { actions.append(.recordGroup(job.lease, workers: names)) }
        for (rank, member) in members.enumerated() {
            workers[member]?.slot = .running(job.lease)
            workers[member]?.step = job.checkpoint?.step ?? 0
            workers[member]?.lastStepAt = nil
            foundNothing.remove(member)
            let group = members.count > 1
                ? GroupAssignment(groupID: GroupAssignment.id(jobID: job.lease.jobID, attempt: Int32(job.lease.attempt)),
                                  rank: Int32(rank), peers: peers, names: names)
                : nil
            let assignment = Assignment(
                jobID: job.lease.jobID, attempt: Int32(job.lease.attempt), model: job.model,
                requestJSON: job.requestJSON, initImage: job.initImage, checkpoint: job.checkpoint?.state,
                checkpointStep: job.checkpoint.map { Int32($0.step) }, checkpointEvery: Int32(checkpointEvery),
                group: group)
            actions.append(.send(member, .assign(assignment)))
            actions.append(status(workers[member]!))
        }
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
        case let .preview(jobID, attempt, step, steps, png):
            // A late preview of an attempt that ended is dropped without a log line (they come every few steps).
            guard let (lease, running) = lease(of: id, jobID: jobID, attempt: attempt), running else { return [] }
            return [.preview(lease, step: Int(step), steps: Int(steps), png: png)]
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
            guard held[lease].map({ $0.connection == id }) ?? true else {
                return [.close(id, reason: "a group member other than rank 0 sent a result")]
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
                actions += stopOthers(of: job, lease: lease, except: id)
            }
            return actions + finishedWork(id)
        case let .memberDone(jobID, attempt, error):
            guard let (lease, _) = lease(of: id, jobID: jobID, attempt: attempt) else {
                return staleMessage("memberDone", jobID, attempt, id)
            }
            workers[id]?.slot = .idle
            var actions: [DispatcherAction] = []
            // A member that failed fails the attempt (retryable: the group is re-formed from the checkpoint).
            if let error, let job = held[lease], job.connection != id {
                held.removeValue(forKey: lease)
                let name = workers[id]?.info.name ?? "\(id)"
                actions.append(job.cancelSent ? .cancelled(lease)
                               : .fail(lease, error: "group member \(name): \(error)", retryable: true))
                actions += stopOthers(of: job, lease: lease, except: id)
            }
            return actions + finishedWork(id)
        case .heartbeat, .goodbye:
            return []
        case .hello, .challenge, .proof, .welcome, .register, .assign, .cancel, .drain:
            return [.close(id, reason: "worker sent a coordinator-only message")]
        case .peerHello, .peerChallenge, .peerProof, .peerWelcome, .peerData:
            return [.close(id, reason: "worker sent a peer-link message on its coordinator link")]
        }
    }

    /// After a job ends on a worker: claim again, or let a draining worker go.
    private mutating func finishedWork(_ id: ConnectionID) -> [DispatcherAction] {
        guard let entry = workers[id] else { return [] }
        if entry.draining { return [status(entry)] }
        return [status(entry)] + claimNext()
    }

    private func staleMessage(_ kind: String, _ jobID: Int64, _ attempt: Int32, _ id: ConnectionID) -> [DispatcherAction] {
        [.log("dropped \(kind) for job \(jobID) attempt \(attempt) from \(workers[id]?.info.name ?? "\(id)"): not the job assigned to it")]
    }
}
