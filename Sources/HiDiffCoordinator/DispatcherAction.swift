import HiDiffProtocol
import HiDiffStore

/// What the dispatcher asks its runtime to do: talk to a worker or write to the store.
public enum DispatcherAction: Sendable {
    case send(ConnectionID, Message)
    case close(ConnectionID, reason: String)
    /// Claim at most one job this worker can run, for this worker; a sharded job only if `capacity` (idle
    /// workers that could form its group, per model) covers its group.
    case claim(ConnectionID, worker: String, models: [String], capacity: [String: Int])
    /// Fix the job's group size (chosen from its memory estimate); a `.release` follows.
    case setGroupSize(Lease, Int)
    /// Record a sharded job's group (worker names in rank order).
    case recordGroup(Lease, workers: [String])
    case registerWorker(WorkerInfo)
    case workerStatus(name: String, state: String, job: Int64?, step: Int?, stepsPerSecond: Double?)
    case workerOffline(name: String)
    /// The worker finished `step` of the `total` it runs.
    case progress(Lease, step: Int, total: Int)
    /// Keep this preview PNG as the job's latest (in memory: `LivePreviews`).
    case preview(Lease, step: Int, steps: Int, png: [UInt8])
    case checkpoint(Lease, step: Int, state: [UInt8])
    case complete(Lease, png: [UInt8], latents: WireTensor, metadataJSON: String)
    case fail(Lease, error: String, retryable: Bool)
    case cancelled(Lease)
    /// Back to the queue without counting as a failure (worker lost, drained, or never assigned).
    case release(Lease, reason: String)
    case renew([Lease])
    /// Ask the store which of these leases a user asked to cancel, and which workers an admin drains.
    case pollCancels([Lease])
    case pollDrains([String])
    case log(String)
}
