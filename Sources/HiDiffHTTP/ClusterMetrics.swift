import CoreMetrics
import Foundation
import HiDiffStore
import Metrics
import Prometheus
import Synchronization

/// The metrics `/metrics` serves, in Prometheus' text format: swift-metrics handles backed by a
/// swift-prometheus registry of this server's own (no process-wide `MetricsSystem.bootstrap`).
///
/// Gauges (jobs by state, each worker's step rate) are refreshed from the store at every scrape; the queue
/// wait and job duration histograms take every job that finished since the last scrape (since the server
/// started, at first), so each coordinator serving HTTP reports the whole cluster.
public final class ClusterMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let watermark: Mutex<(time: Date, id: Int64)>

    static let durationBuckets: [Duration] = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600].map {
        .milliseconds(Int64($0 * 1000))
    }

    /// Buckets for the coordinator's time per reported step (a database write: milliseconds).
    static let overheadBuckets: [Duration] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1].map {
        .microseconds(Int64($0 * 1_000_000))
    }

    /// Metrics counting from `start` (the store clock's now when the server starts).
    public init(start: Date) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "hidiff_job_queue_wait_seconds": Self.durationBuckets,
            "hidiff_job_duration_seconds": Self.durationBuckets,
            "hidiff_coordinator_step_overhead_seconds": Self.overheadBuckets,
        ]
        self.factory = factory
        watermark = Mutex((start, 0))
        // Present (at 0) from the first scrape on.
        Counter(label: "hidiff_database_errors_total", factory: factory).increment(by: 0)
        Counter(label: "hidiff_coordinator_rejected_connections_total", factory: factory).increment(by: 0)
        Counter(label: "hidiff_coordinator_steps_dropped_from_overhead_total", factory: factory).increment(by: 0)
    }

    /// What this process's coordinator counted since the last scrape: connections it closed before they
    /// registered, and the seconds it spent recording each reported step (the histogram
    /// `hidiff_coordinator_step_overhead_seconds`).
    public func record(_ counts: CoordinatorCounters.Counts) {
        Counter(label: "hidiff_coordinator_rejected_connections_total", factory: factory)
            .increment(by: counts.rejectedConnections)
        Counter(label: "hidiff_coordinator_steps_dropped_from_overhead_total", factory: factory)
            .increment(by: counts.droppedSteps)
        let timer = Timer(label: "hidiff_coordinator_step_overhead_seconds", factory: factory)
        for seconds in counts.stepSeconds { timer.recordNanoseconds(Int64(seconds * 1e9)) }
    }

    /// A database call failed (the store was unreachable or refused a statement).
    public func databaseError() {
        Counter(label: "hidiff_database_errors_total", factory: factory).increment()
    }

    /// A request refused before any work, by status code (401, 400, 413, 422, ...).
    public func rejected(status: Int) {
        Counter(label: "hidiff_http_rejected_requests_total", dimensions: [("status", "\(status)")], factory: factory).increment()
    }

    /// Response bytes sent, by kind (json, png, metrics).
    public func sent(bytes: Int, kind: String) {
        Counter(label: "hidiff_http_bytes_sent_total", dimensions: [("kind", kind)], factory: factory).increment(by: bytes)
    }

    /// Jobs this server submitted, by API (jobs, a1111).
    public func submitted(_ count: Int, api: String) {
        Counter(label: "hidiff_http_jobs_submitted_total", dimensions: [("api", api)], factory: factory).increment(by: count)
    }

    /// Refreshes the gauges and histograms from the store (on the store's own thread).
    public func refresh(from store: JobStore) throws {
        let stats = try store.queueStats()
        for state in JobState.allCases {
            Gauge(label: "hidiff_jobs", dimensions: [("state", state.rawValue)], factory: factory)
                .record(stats.countsByState[state.rawValue] ?? 0)
        }
        Gauge(label: "hidiff_queue_oldest_age_seconds", factory: factory).record(stats.oldestQueuedAge ?? 0)
        Gauge(label: "hidiff_cluster_steps_per_second", factory: factory).record(stats.stepsPerSecond)
        let workers = try store.workers()
        for worker in workers {
            Gauge(label: "hidiff_worker_steps_per_second", dimensions: [("worker", worker.name)], factory: factory)
                .record(worker.state == "offline" ? 0 : worker.stepsPerSecond ?? 0)
        }
        var (time, id) = watermark.withLock { $0 }
        while true {
            let finished = try store.jobsFinished(after: time, id: id, limit: 500)
            for job in finished {
                Counter(label: "hidiff_jobs_finished_total", dimensions: [("state", job.state.rawValue)], factory: factory).increment()
                if let started = job.startedAt, let ended = job.finishedAt {
                    Timer(label: "hidiff_job_queue_wait_seconds", factory: factory)
                        .recordInterval(started.timeIntervalSince(job.createdAt))
                    Timer(label: "hidiff_job_duration_seconds", factory: factory)
                        .recordInterval(ended.timeIntervalSince(started))
                }
                (time, id) = (job.finishedAt!, job.id)
            }
            if finished.count < 500 { break }
        }
        watermark.withLock { $0 = (time, id) }
    }

    /// The text exposition.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}

extension Timer {
    /// Records `seconds` (clamped at 0) as a duration.
    func recordInterval(_ seconds: Double) {
        recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }
}
