import Foundation
import HiDiffTLS

/// How a coordinator runs: who it is, where it listens, and its timing.
public struct CoordinatorConfiguration: Sendable {
    /// This coordinator's lease owner name (unique per process: host and pid by default).
    public var name: String
    public var host: String
    public var port: Int
    /// The cluster token workers must prove they hold.
    public var token: [UInt8]
    /// Seconds a job lease lasts without renewal; another coordinator rescues the job after that.
    public var leaseSeconds: Double = 30
    /// Seconds between heartbeats on worker links; a link silent for 3 intervals is dead.
    public var heartbeatSeconds: Double = 2
    /// Steps between latent checkpoints.
    public var checkpointEvery: Int = 5
    /// Seconds between queue polls when no notification arrives (the LISTEN/NOTIFY fallback).
    public var pollSeconds: Double = 2
    /// TLS on worker links (`--tls-cert`, `--tls-key`, `--tls-ca`); nil: plain TCP, with a warning at start.
    public var tls: LinkTLS?

    public init(name: String? = nil, host: String, port: Int, token: [UInt8]) {
        self.name = name ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        self.host = host
        self.port = port
        self.token = token
    }
}
