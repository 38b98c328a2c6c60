import Foundation
import HiDiffPostgres
import HiDiffStore
import HiDiffTLS
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Synchronization

/// The coordinator's HTTP API (Hummingbird): the JSON jobs API, AUTOMATIC1111-compatible endpoints and
/// `/metrics`, and the live status page (`/`, `StatusPage`). It reads and writes the job store through a connection of its own; reads need no token,
/// submits and admin actions need the API token.
public final class HTTPServer: Sendable {
    public let configuration: HTTPConfiguration
    private let databaseURL: String
    private let logger: Logger
    private let previews: LivePreviews
    private let counters: CoordinatorCounters
    private let boundPort = Mutex<Int?>(nil)

    /// - Parameters:
    ///   - previews: the coordinator's latest preview per job (`Coordinator.previews`), served to the status
    ///     page and as `/sdapi/v1/progress`'s `current_image`.
    ///   - counters: the coordinator's rejected connections and step timings (`Coordinator.counters`), for
    ///     `/metrics`.
    public init(configuration: HTTPConfiguration, databaseURL: String, logger: Logger,
                previews: LivePreviews = LivePreviews(), counters: CoordinatorCounters = CoordinatorCounters()) {
        self.configuration = configuration
        self.previews = previews
        self.counters = counters
        self.databaseURL = databaseURL
        self.logger = logger
    }

    /// The port once `run` has bound it (useful with port 0).
    public var port: Int? { boundPort.withLock { $0 } }

    /// Serves until the task is cancelled.
    public func run() async throws {
        let connection = try PostgresConnection(url: databaseURL, logger: logger)
        let store = JobStore(connection: connection)
        let services = APIServices(store: store, configuration: configuration,
                                   metrics: ClusterMetrics(start: store.clock.now()), logger: logger,
                                   previews: previews, counters: counters)
        let router = Self.router(services)
        let scheme = configuration.tls == nil ? "http" : "https"
        let server: HTTPServerBuilder
        if let tls = configuration.tls?.httpServerConfiguration {
            server = try .tls(.http1(), tlsConfiguration: tls)
        } else {
            if configuration.tls != nil { throw TLSConfigurationError.serverNeedsIdentity(role: "the HTTP API") }
            server = .http1()
            logger.warning("\(LinkTLS.plaintextWarning(links: "HTTP API connections (and the API token they carry)"))")
        }
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hidiff"),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port
                boundPort.withLock { $0 = port }
                logger.info("HTTP API listening on \(scheme)://\(configuration.host):\(port ?? configuration.port)")
            },
            logger: logger)
        try await app.run()
    }

    /// Every route, on one router (also used by tests without a socket).
    static func router(_ services: APIServices) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RejectionMiddleware(metrics: services.metrics))
        JobsAPI(services: services).register(on: router)
        A1111API(services: services).register(on: router)
        StatusPage(services: services).register(on: router)
        router.get("metrics") { _, _ in
            try await services.db { try services.metrics.refresh(from: $0) }
            services.metrics.record(services.counters.take())
            return services.bytes(services.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8",
                                  kind: "metrics")
        }
        router.get("healthz") { _, _ in try services.json(["ok": true]) }
        return router
    }
}
