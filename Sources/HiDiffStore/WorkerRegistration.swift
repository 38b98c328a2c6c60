/// What a worker tells the coordinator when it registers.
public struct WorkerRegistration: Sendable {
    /// The unique worker name.
    public var name: String
    /// Where the coordinator reaches it (host:port).
    public var address: String
    /// CPU cores.
    public var cores: Int
    /// Memory in bytes.
    public var memoryBytes: Int64
    /// Models it can run.
    public var models: [String]
    /// Its software version.
    public var version: String
    /// The compute kernels it uses (free text, e.g. "openblas").
    public var kernels: String
    /// Where the other members of a group reach it (HOST:PORT), or nil when it takes no part in groups.
    public var peerAddress: String?

    /// Creates a registration.
    public init(name: String, address: String, cores: Int, memoryBytes: Int64, models: [String],
                version: String, kernels: String, peerAddress: String? = nil) {
        self.peerAddress = peerAddress
        self.name = name
        self.address = address
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.models = models
        self.version = version
        self.kernels = kernels
    }
}
