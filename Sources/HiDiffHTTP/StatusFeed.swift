import Foundation
import HiDiffStore
import Synchronization

/// What the status page shows, read from the store at most once per `maxAge` however many pages are open
/// (every stream shares the cached snapshot), and the count of open streams (bounded: each holds a task).
final class StatusFeed: Sendable {
    /// Seconds a snapshot is reused.
    let maxAge: Double
    /// The most event streams open at once (503 above).
    let maxStreams: Int
    private let cache = Mutex<(at: ContinuousClock.Instant, json: String)?>(nil)
    private let streams = Mutex(0)

    init(maxAge: Double = 0.5, maxStreams: Int = 64) {
        self.maxAge = maxAge
        self.maxStreams = maxStreams
    }

    /// Takes a stream slot; false when `maxStreams` are open.
    func open() -> Bool {
        streams.withLock { n in
            guard n < maxStreams else { return false }
            n += 1
            return true
        }
    }

    func close() { streams.withLock { $0 -= 1 } }

    /// The snapshot as JSON text: cached, or read with `services`' queries (the ones `/api/v1/queue`,
    /// `/api/v1/workers` and `/api/v1/jobs` answer with).
    func snapshot(_ services: APIServices) async throws -> String {
        if let cached = cache.withLock({ $0 }), cached.at.duration(to: .now) < .seconds(maxAge) { return cached.json }
        let (stats, workers, running, queued, recent) = try await services.db { store in
            (try store.queueStats(), try store.workers(), try store.jobs(state: .running, limit: 100),
             try store.jobs(state: .queued, limit: 50), try store.jobs(state: nil, limit: 30))
        }
        let json = try Self.snapshotJSON(stats: stats, workers: workers, jobs: running + queued + recent,
                                         previews: services.previews)
        cache.withLock { $0 = (.now, json) }
        return json
    }

    /// `{queue, workers, jobs, time}`: `queue` and `workers` as `/api/v1/queue` and `/api/v1/workers` encode
    /// them, `jobs` as `/api/v1/jobs` does (each job once, by id, newest first) plus `preview_step`, the step
    /// of the job's latest preview (null: none).
    static func snapshotJSON(stats: QueueStats, workers: [WorkerRecord], jobs: [JobRecord], previews: LivePreviews) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let queue = try JSONSerialization.jsonObject(with: try encoder.encode(stats))
        let workerList = try JSONSerialization.jsonObject(with: try encoder.encode(workers))
        var seen = Set<Int64>()
        let unique = jobs.filter { seen.insert($0.id).inserted }.sorted { $0.id > $1.id }
        let jobList: [[String: Any]] = unique.map { job in
            var object = job.statusJSON
            object["preview_step"] = previews.latest(jobID: job.id)?.step ?? NSNull()
            return object
        }
        let object: [String: Any] = ["queue": queue, "workers": workerList, "jobs": jobList,
                                     "time": ISO8601DateFormatter().string(from: Date())]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
