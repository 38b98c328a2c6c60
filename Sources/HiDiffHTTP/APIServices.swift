import Foundation
import HiDiffPostgres
import HiDiffStore
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// What every route shares: the store, the configuration, the metrics, the AUTOMATIC1111 calls in flight,
/// the coordinator's live previews, the status page's shared snapshot and the default model
/// (`POST /sdapi/v1/options` changes it for this server).
final class APIServices: Sendable {
    let store: JobStore
    let configuration: HTTPConfiguration
    let metrics: ClusterMetrics
    let renders = InFlightRenders()
    let previews: LivePreviews
    let counters: CoordinatorCounters
    let feed = StatusFeed()
    let logger: Logger
    private let model: Mutex<String>

    init(store: JobStore, configuration: HTTPConfiguration, metrics: ClusterMetrics, logger: Logger,
         previews: LivePreviews = LivePreviews(), counters: CoordinatorCounters = CoordinatorCounters()) {
        self.store = store
        self.previews = previews
        self.counters = counters
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        model = Mutex(configuration.defaultModel)
    }

    var defaultModel: String {
        get { model.withLock { $0 } }
        set { model.withLock { $0 = newValue } }
    }

    /// Throws 401 unless the request carries the API token.
    func requireToken(_ request: Request) throws {
        guard configuration.token.accepts(authorization: request.headers[.authorization]) else { throw APIError.unauthorized }
    }

    /// The body, at most `maxBodyBytes` (413 above: refused from Content-Length before reading, or while
    /// reading), parsed as one JSON object (400 when it is not JSON).
    func jsonBody(_ request: Request) async throws -> JSONFields {
        let limit = configuration.maxBodyBytes
        let tooLarge = APIError(.contentTooLarge, "the request body is larger than \(limit) bytes; send less (images as PNG, fewer of them)",
                                kind: "too_large")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch is NIOTooManyBytesError { throw tooLarge }
        return try JSONFields(body: Data(buffer.readableBytesView))
    }

    /// `body` on the store's connection thread; a database failure is counted and becomes a 503, a missing
    /// job a 404, an action the job's state forbids a 409.
    func db<T: Sendable>(_ body: @escaping @Sendable (JobStore) throws -> T) async throws -> T {
        do {
            return try await store.run(body)
        } catch let error as PostgresError {
            metrics.databaseError()
            logger.warning("database error in the HTTP API", metadata: ["error": "\(error)"])
            throw APIError(.serviceUnavailable, "the job database is unavailable (\(error.isConnectionLoss ? "connection lost" : "statement failed")); try again shortly",
                           kind: "database")
        } catch let error as StoreError {
            switch error {
            case .notFound: throw APIError(.notFound, "\(error)", kind: "not_found")
            case .invalidState: throw APIError(.conflict, "\(error)", kind: "conflict")
            default: throw APIError(.unprocessableContent, "\(error)")
            }
        }
    }

    /// A JSON response from Foundation objects (counted as bytes sent).
    func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
        return bytes(data, contentType: "application/json", kind: "json", status: status)
    }

    /// A JSON response from an `Encodable` (snake-free keys as the type declares, ISO 8601 dates).
    func json(encoding value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return bytes(try encoder.encode(value), contentType: "application/json", kind: "json")
    }

    func bytes(_ data: some Sequence<UInt8>, contentType: String, kind: String, status: HTTPResponse.Status = .ok) -> Response {
        let buffer = ByteBuffer(bytes: data)
        metrics.sent(bytes: buffer.readableBytes, kind: kind)
        return Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: buffer))
    }
}
