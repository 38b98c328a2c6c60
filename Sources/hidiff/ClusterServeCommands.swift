import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffCoordinator
import HiDiffGroup
import HiDiffHTTP
import HiDiffProtocol
import HiDiffWorker
import Logging

/// `hidiff coordinator`: claims jobs from PostgreSQL and leases them to workers over TCP.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator", abstract: "Run a coordinator: the only server that talks to PostgreSQL.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Where workers connect: HOST:PORT (port 0: any free port, printed at start).")
    var listen: String = "127.0.0.1:7420"
    @Option(help: "A file holding the cluster token (at least 16 bytes; workers must hold the same).")
    var tokenFile: String
    @Option(help: "Steps between latent checkpoints.")
    var checkpointEvery: Int = 5
    @Option(help: "Seconds a job lease lasts without renewal before another coordinator may rescue the job.")
    var leaseSeconds: Double = 30
    @Option(help: "Seconds between heartbeats on worker links; a link silent for 3 of them is dead.")
    var heartbeatSeconds: Double = 2
    @Option(help: "This coordinator's name (default: host-pid).")
    var name: String?
    @Option(help: "Serve the HTTP API (JSON jobs API, AUTOMATIC1111-compatible /sdapi/v1, /metrics) at HOST:PORT (port 0: any free port, logged at start).")
    var http: String?
    @Option(help: "A file holding the HTTP API token (at least 16 bytes; not the cluster token). Default: $HIDIFF_API_TOKEN.")
    var apiTokenFile: String?
    @Option(help: "The model HTTP requests without one use.")
    var defaultModel: String = "shapes"
    @Option(help: "The largest HTTP request body in bytes (413 above it).")
    var httpMaxBody: Int = 64 << 20
    @OptionGroup var tls: TLSOptions

    func validate() throws {
        guard heartbeatSeconds >= 0.2 && heartbeatSeconds <= 60 else { throw ValidationError("--heartbeat-seconds must be from 0.2 to 60") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
        guard leaseSeconds >= 3 && leaseSeconds <= 3600 else { throw ValidationError("--lease-seconds must be from 3 to 3600") }
        guard httpMaxBody >= 1024 && httpMaxBody <= 1 << 30 else { throw ValidationError("--http-max-body must be from 1024 to 1073741824 bytes") }
    }

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65535).contains(port), colon != listen.startIndex else {
            throw ValidationError("--listen must be HOST:PORT with a port from 0 to 65535 (got \(listen))")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var config = CoordinatorConfiguration(name: name, host: host, port: port,
                                              token: try TokenAuth.loadToken(path: tokenFile))
        config.checkpointEvery = checkpointEvery
        config.leaseSeconds = leaseSeconds
        config.heartbeatSeconds = heartbeatSeconds
        config.tls = try tls.load(serves: true, role: "the coordinator")
        LogSetup.bootstrap()
        var logger = Logger(label: "hidiff.coordinator")
        logger[metadataKey: "coordinator"] = "\(config.name)"
        let databaseURL = try database.url()
        let coordinator = Coordinator(configuration: config, databaseURL: databaseURL, logger: logger)
        var server: HTTPServer?
        if let http {
            let address = try HTTPConfiguration.parseAddress(http)
            guard let token = try APIToken.load(file: apiTokenFile) else { throw HTTPConfigurationError.missingToken }
            var httpConfig = HTTPConfiguration(host: address.host, port: address.port, token: token)
            httpConfig.defaultModel = defaultModel
            httpConfig.maxBodyBytes = httpMaxBody
            httpConfig.tls = config.tls
            server = HTTPServer(configuration: httpConfig, databaseURL: databaseURL,
                                logger: Logger(label: "hidiff.http"), previews: coordinator.previews,
                                counters: coordinator.counters)
        }
        try await ShutdownSignal.run(logger: logger, drains: false) { [server] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await coordinator.run() }
                if let server { group.addTask { try await server.run() } }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// `hidiff worker`: joins a coordinator and renders what it is given.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run a worker: renders jobs a coordinator assigns; SIGTERM drains it.")

    @Option(help: "Coordinators to join, HOST:PORT[,HOST:PORT...]; the worker moves to the next when a link drops.")
    var coordinator: String
    @Option(help: "A file holding the cluster token.")
    var tokenFile: String
    @Option(help: "A folder of models (each subfolder by its name); repeatable. The bundled demo model is always offered as `shapes`.")
    var models: [String] = []
    @Option(help: "This worker's name (default: host-pid).")
    var name: String?
    @Option(help: "Bytes of memory for models (default: this machine's memory).")
    var memory: Int64?
    @Option(help: "The address other workers reach this one at (default: the host name).")
    var address: String?
    @Option(help: "Take part in sharded jobs (`submit --workers K`): listen for the group's other members at HOST:PORT (port 0: any free port).")
    var peerListen: String?
    @Option(help: "HOST:PORT the other members dial (default: the --peer-listen host, or --address when listening on all interfaces, and the bound port).")
    var peerAddress: String?
    @OptionGroup var tls: TLSOptions
    @Option(help: "Send a preview of the image forming (the latent mapped to RGB, no VAE call) every N steps; 0: none.")
    var previewEvery: Int = 5

    func run() async throws {
        let endpoints = try coordinator.split(separator: ",").map {
            try WorkerConfiguration.Endpoint(parsing: String($0).trimmingCharacters(in: .whitespaces))
        }
        guard !endpoints.isEmpty else { throw ValidationError("--coordinator needs at least one HOST:PORT") }
        let memoryBytes = memory ?? Int64(ProcessInfo.processInfo.physicalMemory)
        guard memoryBytes > 0 else { throw ValidationError("--memory must be positive") }
        let host = ProcessInfo.processInfo.hostName
        var config = WorkerConfiguration(
            name: name ?? "\(host)-\(ProcessInfo.processInfo.processIdentifier)", coordinators: endpoints,
            token: try TokenAuth.loadToken(path: tokenFile), memoryBytes: memoryBytes, address: address ?? host)
        config.tls = try tls.load(serves: peerListen != nil, role: "a worker with --peer-listen")
        guard previewEvery >= 0 else { throw ValidationError("--preview-every must be 0 (none) or a number of steps") }
        config.previewEvery = previewEvery
        config.kernels = KernelSummary.text
        LogSetup.bootstrap()
        var logger = Logger(label: "hidiff.worker")
        logger[metadataKey: "worker"] = "\(config.name)"
        let catalog = try ModelCatalog(directories: models)
        logger.info("worker \(config.name) offers models \(catalog.infos.map(\.name).joined(separator: ", "))",
                    metadata: ["models": "\(catalog.infos.map(\.name).joined(separator: ","))"])
        var group: GroupLinks?
        if let peerListen {
            let listen = try WorkerConfiguration.Endpoint(parsing: peerListen, allowingPortZero: true)
            let listenHost = listen.host
            let listener = try await PeerListener.bind(host: listenHost, port: listen.port, tls: config.tls, logger: logger)
            let wildcard = ["0.0.0.0", "::"].contains(listenHost)
            let advertised = peerAddress ?? "\((wildcard ? (address ?? host) : listenHost)):\(listener.port)"
            do { _ = try PeerAddress(advertised) } catch {
                throw ValidationError("--peer-address \(advertised) is not HOST:PORT (a port from 1 to 65535)")
            }
            group = GroupLinks(listener: listener, advertisedAddress: advertised, token: config.token, logger: logger)
            logger.info("accepting group links at \(listenHost):\(listener.port), advertised as \(advertised)")
        }
        let worker = Worker(configuration: config, models: ModelCache(catalog: catalog, memoryLimit: memoryBytes),
                            group: group, logger: logger)
        try await ShutdownSignal.run(logger: logger, drains: true) {
            try await worker.run()
        } onSignal: {
            worker.shutDown()
        }
        group?.listener.close()
    }

}
