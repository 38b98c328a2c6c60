import Foundation
import HiDiffPostgres

/// A worker as stored.
public struct WorkerRecord: Sendable, Codable {
    /// The unique worker name.
    public var name: String
    /// Where its coordinator reaches it.
    public var address: String
    /// CPU cores.
    public var cores: Int
    /// Memory in bytes.
    public var memoryBytes: Int64
    /// Models it can run.
    public var models: [String]
    /// Its software version.
    public var version: String
    /// Its compute kernels.
    public var kernels: String
    /// Where the other members of a group reach it, or nil when it takes no part in groups.
    public var peerAddress: String?
    /// idle, busy, draining or offline.
    public var state: String
    /// The coordinator it registered with.
    public var coordinator: String?
    /// The job it reported running.
    public var currentJob: Int64?
    /// The step it reported.
    public var step: Int?
    /// Its reported speed.
    public var stepsPerSecond: Double?
    /// The last heartbeat (store clock).
    public var lastHeartbeat: Date
    /// The last registration.
    public var registeredAt: Date

    static let columns = """
        name, address, cores, memory_bytes, models, version, kernels, peer_address, state, coordinator, current_job,
        step, steps_per_second, last_heartbeat, registered_at
        """

    init(row: PostgresRow) throws {
        name = try row.string("name")
        address = try row.string("address")
        cores = Int(try row.int("cores"))
        memoryBytes = try row.int("memory_bytes")
        models = try row.stringArray("models")
        version = try row.string("version")
        kernels = try row.string("kernels")
        peerAddress = try row.optionalString("peer_address")
        state = try row.string("state")
        coordinator = try row.optionalString("coordinator")
        currentJob = try row.optionalInt("current_job")
        step = try row.optionalInt("step").map { Int($0) }
        stepsPerSecond = try row.optionalDouble("steps_per_second")
        lastHeartbeat = try row.date("last_heartbeat")
        registeredAt = try row.date("registered_at")
    }
}
