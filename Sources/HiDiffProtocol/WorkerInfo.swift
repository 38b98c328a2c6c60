/// What a worker tells the coordinator about itself in `register`.
public struct WorkerInfo: Sendable, Equatable {
    /// The worker's name (should match the name in its hello).
    public var name: String
    /// Where the worker can be reached or identified (informational).
    public var address: String
    /// Compute cores the worker will use.
    public var cores: Int32
    /// Memory available for jobs.
    public var memoryBytes: Int64
    /// The worker's software version.
    public var version: String
    /// The kernel backend description (e.g. "openblas").
    public var kernels: String
    /// The models it can run (at most `WorkerInfo.maxModels`).
    public var models: [ModelInfo]
    /// Where the worker accepts links from the other members of a sharded job's group ("host:port");
    /// nil: it runs whole jobs only.
    public var peerAddress: String?

    /// The largest model list a register message may carry.
    public static let maxModels = 4096

    /// Memberwise.
    public init(name: String, address: String, cores: Int32, memoryBytes: Int64, version: String, kernels: String,
                models: [ModelInfo], peerAddress: String? = nil) {
        self.peerAddress = peerAddress
        self.name = name
        self.address = address
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.version = version
        self.kernels = kernels
        self.models = models
    }
}
