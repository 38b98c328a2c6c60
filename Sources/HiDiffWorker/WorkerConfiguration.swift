import Foundation
import HiDiffTLS

/// How a worker runs: its name, the coordinators it may join, what it offers.
public struct WorkerConfiguration: Sendable {
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) { self.host = host; self.port = port }
        public var description: String { "\(host):\(port)" }

        /// `HOST:PORT` (IPv6 as `[::1]:PORT`); port 0 ("any free port") only for a listening address.
        public init(parsing text: String, allowingPortZero: Bool = false) throws {
            let lowest = allowingPortZero ? 0 : 1
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  (lowest...65535).contains(port) else {
                throw WorkerError.invalidAssignment("\(text) is not HOST:PORT (a port from \(lowest) to 65535)")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw WorkerError.invalidAssignment("\(text) has no host") }
            self.init(host: host, port: port)
        }
    }

    public var name: String
    public var coordinators: [Endpoint]
    public var token: [UInt8]
    /// Bytes of memory this worker may use for models (and, later, activations).
    public var memoryBytes: Int64
    /// The address peers would reach this worker at (advertised; used by sharded groups).
    public var address: String
    public var cores: Int = ProcessInfo.processInfo.activeProcessorCount
    public var version: String = "hidiff 0.3.0"
    public var kernels: String = "openblas"
    /// Seconds to wait between reconnect attempts, doubled up to `maxBackoff`.
    public var initialBackoff: Double = 0.25
    public var maxBackoff: Double = 5
    /// TLS on the link to the coordinator and on group links (`--tls-cert`, `--tls-key`, `--tls-ca`); nil:
    /// plain TCP, with a warning at start.
    public var tls: LinkTLS?
    /// Send a preview of the image forming (`Message.preview`, a PNG of the latent through `LatentPreview`)
    /// every this many steps; 0: none. The message came with protocol version 2, which the hello checks.
    public var previewEvery: Int = 5

    public init(name: String, coordinators: [Endpoint], token: [UInt8], memoryBytes: Int64, address: String) {
        self.name = name
        self.coordinators = coordinators
        self.token = token
        self.memoryBytes = memoryBytes
        self.address = address
    }
}
