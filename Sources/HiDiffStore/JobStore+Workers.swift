import Foundation
import HiDiffPostgres

/// The worker registry.
extension JobStore {
    /// Registers (or re-registers) a worker: its description is replaced, state idle, no current job,
    /// last_heartbeat and registered_at = now. A re-registration also ends a previous drain.
    public func registerWorker(_ r: WorkerRegistration, coordinator: String) throws {
        let now = clock.now()
        try invalidIfRejected("register worker '\(r.name)'") {
            try connection.execute("""
                INSERT INTO workers (name, address, cores, memory_bytes, models, version, kernels, state, coordinator,
                                     current_job, step, steps_per_second, last_heartbeat, registered_at, peer_address)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'idle', $8, NULL, NULL, NULL, $9, $9, $10)
                ON CONFLICT (name) DO UPDATE SET
                    address = EXCLUDED.address, cores = EXCLUDED.cores, memory_bytes = EXCLUDED.memory_bytes,
                    models = EXCLUDED.models, version = EXCLUDED.version, kernels = EXCLUDED.kernels, state = 'idle',
                    peer_address = EXCLUDED.peer_address,
                    coordinator = EXCLUDED.coordinator, current_job = NULL, step = NULL, steps_per_second = NULL,
                    last_heartbeat = EXCLUDED.last_heartbeat, registered_at = EXCLUDED.registered_at
                """, [.text(r.name), .text(r.address), .int(Int64(r.cores)), .int(r.memoryBytes), .textArray(r.models),
                      .text(r.version), .text(r.kernels), .text(coordinator), .timestamp(now),
                      r.peerAddress.map(PostgresValue.text) ?? .null])
        }
    }

    /// Records a heartbeat. `state` is idle, busy, draining or offline; a worker an admin is draining stays
    /// draining when it reports idle or busy (read it back with `workerState` to forward the drain).
    /// Throws `.unknownWorker` if it never registered, `.invalid` for an unknown state or a job without state busy/draining.
    public func workerHeartbeat(name: String, state: String, currentJob: Int64?, step: Int?, stepsPerSecond: Double?) throws {
        let now = clock.now()
        let affected = try invalidIfRejected("heartbeat of worker '\(name)' (state \(state))") {
            try connection.execute("""
                UPDATE workers SET
                    state = CASE WHEN state = 'draining' AND $2::text IN ('idle', 'busy') THEN 'draining' ELSE $2::text END,
                    current_job = $3, step = $4, steps_per_second = $5, last_heartbeat = $6
                WHERE name = $1
                """, [.text(name), .text(state), currentJob.map(PostgresValue.int) ?? .null,
                      step.map { .int(Int64($0)) } ?? .null, stepsPerSecond.map(PostgresValue.double) ?? .null,
                      .timestamp(now)])
        }
        guard affected == 1 else { throw StoreError.unknownWorker(name) }
    }

    /// Marks a worker offline (no current job).
    public func markWorkerOffline(name: String) throws {
        let affected = try connection.execute("""
            UPDATE workers SET state = 'offline', current_job = NULL, step = NULL, steps_per_second = NULL WHERE name = $1
            """, [.text(name)])
        guard affected == 1 else { throw StoreError.unknownWorker(name) }
    }

    /// Asks a worker to drain: state draining; its coordinator sees it at the next heartbeat and sends the
    /// drain. Throws `.unknownWorker`, or `.invalid` when the worker is offline.
    public func drainWorker(name: String) throws {
        let affected = try connection.execute("UPDATE workers SET state = 'draining' WHERE name = $1 AND state <> 'offline'",
                                              [.text(name)])
        if affected == 1 { return }
        guard try workerState(name: name) != nil else { throw StoreError.unknownWorker(name) }
        throw StoreError.invalid("worker '\(name)' is offline; there is nothing to drain")
    }

    /// Every registered worker, by name.
    public func workers() throws -> [WorkerRecord] {
        try connection.query("SELECT \(WorkerRecord.columns) FROM workers ORDER BY name").map(WorkerRecord.init(row:))
    }

    /// A worker's state, or nil if it never registered.
    public func workerState(name: String) throws -> String? {
        try connection.query("SELECT state FROM workers WHERE name = $1", [.text(name)]).first?.string("state")
    }

    /// The union of the models of workers that are not offline (for submit validation).
    public func modelsAvailable() throws -> Set<String> {
        let rows = try connection.query("SELECT DISTINCT unnest(models) AS model FROM workers WHERE state <> 'offline'")
        return Set(try rows.map { try $0.string("model") })
    }
}
