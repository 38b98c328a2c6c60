import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffImage
import HiDiffPipeline
import HiDiffProtocol
import Synchronization

/// Runs one assignment on a thread of its own (never on an event loop or the cooperative pool) and reports
/// every step, checkpoint and the result through `emit`, each message naming (job, attempt).
///
/// A sharded assignment (`Assignment.group`) first links this worker to its group's other members through
/// `GroupLinks` and renders its row stripe; rank 0 reports as an unsharded job does, the others end with
/// `memberDone`. Any failure closes the group's links, so the other members fail at once instead of waiting.
public final class JobRunner: Sendable {
    public enum StopReason: String, Sendable {
        case cancelled = "cancelled by a user"
        case shuttingDown = "the worker is shutting down"
        case linkLost = "the link to the coordinator was lost"
    }

    public let assignment: Assignment
    /// Steps between previews (`Message.preview`); 0: none.
    public let previewEvery: Int
    private let stopReason = Mutex<StopReason?>(nil)
    private let done = Mutex(false)

    public init(assignment: Assignment, previewEvery: Int = 0) {
        self.assignment = assignment
        self.previewEvery = previewEvery
    }

    /// Stops at the next step boundary (after a checkpoint, for a shutdown).
    public func stop(_ reason: StopReason) {
        stopReason.withLock { if $0 == nil { $0 = reason } }
    }

    public var isFinished: Bool { done.withLock { $0 } }

    /// Starts the job on its own thread. `emit` carries its progress and checkpoints; `finished` is called
    /// once, last, with its final message (nil when stopped for a shutdown or a lost link), so the caller can
    /// mark itself free before that message leaves: a coordinator answers a result with the next assignment.
    public func start(models: ModelCache, group: GroupLinks? = nil, emit: @escaping @Sendable (Message) -> Void,
                      finished: @escaping @Sendable (Message?) -> Void) {
        let thread = Thread { [self] in
            let message = run(models: models, group: group, emit: emit)
            done.withLock { $0 = true }
            finished(message)
        }
        thread.name = "hidiff-job-\(assignment.jobID)"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Runs the job on the calling thread; returns its final message: the result, why it failed, or nil when
    /// it was stopped for a shutdown or a lost link (its checkpoint was sent; the coordinator puts the job
    /// back in the queue when the link closes, which is not a failed attempt).
    public func run(models: ModelCache, group: GroupLinks? = nil, emit: @escaping @Sendable (Message) -> Void) -> Message? {
        let a = assignment
        let leader = (a.group?.rank ?? 0) == 0
        var collective: TCPCollective?
        defer { collective?.close() }
        do {
            let request = try GenerationRequest(json: Data(a.requestJSON.utf8))
            let pipeline = try models.pipeline(named: a.model, precision: request.precision)
            let initImage = try a.initImage.map { try PNGReader.read(bytes: $0) }
            var control = DenoiseControl()
            if let g = a.group {
                guard let group else {
                    throw WorkerError.invalidAssignment("assigned rank \(g.rank) of a group, but this worker was started without --peer-listen")
                }
                let joined = try group.join(g)
                collective = joined
                control.collective = joined
            }
            // Requests arrive over the network: the engine's rules and this worker's memory, before any work.
            try pipeline.checkMemory(request, initImage: initImage, parts: control.collective.size,
                                     limit: models.memoryLimit,
                                     hint: "the limit is this worker's --memory; render it over more workers (submit --workers K) or on workers with more memory")
            control.resumeFrom = try a.checkpoint.map { try DenoiseCheckpoint(serialized: $0) }
            control.checkpointEvery = Int(a.checkpointEvery)
            // Every rank holds the whole latent; rank 0 alone reports it.
            control.onCheckpoint = leader ? { checkpoint in
                emit(.checkpoint(jobID: a.jobID, attempt: a.attempt, step: Int32(checkpoint.completedSteps),
                                 state: checkpoint.serialized()))
            } : nil
            control.shouldStop = { [self] in stopReason.withLock { $0 != nil } }
            control.progress = leader ? { done, total in
                emit(.progress(jobID: a.jobID, attempt: a.attempt, step: Int32(done), steps: Int32(total)))
            } : nil
            if leader && previewEvery > 0 {
                control.onLatents = Self.previews(every: previewEvery, preview: LatentPreview(pipeline: pipeline)) { step, steps, png in
                    emit(.preview(jobID: a.jobID, attempt: a.attempt, step: Int32(step), steps: Int32(steps), png: png))
                }
            }
            let latents = try pipeline.denoise(request, initImage: initImage, control: control)
            let image = try pipeline.decode(latents, collective: control.collective)
            if let traffic = collective?.traffic { group?.record(traffic, job: a.jobID) }
            guard leader, let image else { return .memberDone(jobID: a.jobID, attempt: a.attempt, error: nil) }
            let metadata = GenerationMetadata(request: request, pipeline: pipeline, width: image.width, height: image.height)
            let png = try PNGWriter.encode(image, textChunks: metadata.textChunks())
            return .result(jobID: a.jobID, attempt: a.attempt, png: png, latents: WireTensor(latents),
                           metadataJSON: try metadata.json())
        } catch {
            if let reason = stopReason.withLock({ $0 }) {
                guard reason == .cancelled else { return nil }
                return leader
                    ? .failed(jobID: a.jobID, attempt: a.attempt, message: "stopped: \(reason.rawValue)", retryable: false)
                    : .memberDone(jobID: a.jobID, attempt: a.attempt, error: "stopped: \(reason.rawValue)")
            }
            if !leader { return .memberDone(jobID: a.jobID, attempt: a.attempt, error: "\(error)") }
            return .failed(jobID: a.jobID, attempt: a.attempt, message: "\(error)", retryable: Self.isRetryable(error))
        }
    }

    /// A latents callback that sends a preview PNG after every `every`-th step and after the last one, on the
    /// job's thread (a 64 x 64 latent takes about 1 ms with its PNG). A PNG over `Message.maxPreviewBytes`
    /// (impossible at `LatentPreview.maxSide` 256: 196 KiB raw) is dropped rather than sent.
    static func previews(every: Int, preview: LatentPreview,
                         send: @escaping (Int, Int, [UInt8]) -> Void) -> (Tensor, Int, Int) -> Void {
        { latents, done, total in
            guard done % every == 0 || done == total,
                  let png = try? PNGWriter.encode(preview.image(latents)), png.count <= Message.maxPreviewBytes else { return }
            send(done, total, png)
        }
    }

    /// A request the engine refuses will be refused again; anything else (memory, IO) may pass elsewhere.
    static func isRetryable(_ error: Error) -> Bool {
        switch error {
        case is PipelineError, WorkerError.invalidAssignment: false
        default: true
        }
    }
}
