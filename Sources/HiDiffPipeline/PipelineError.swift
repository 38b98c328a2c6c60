import Foundation

/// Why a generation request cannot run (each case names the field and the limit), or why it stopped.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(field: String, reason: String)
    case unsupportedModel(path: String, reason: String)
    /// `DenoiseControl.shouldStop` asked to stop; `atStep` steps were done (the checkpoint handed to
    /// `onCheckpoint` resumes from there).
    case stopped(atStep: Int)
    /// A NaN or infinity appeared (after denoising step `step`, when known); nothing is written.
    case nonFinite(what: String, step: Int?, hint: String)
    /// The estimated peak memory (`MemoryEstimate`) exceeds the caller's limit; nothing ran.
    case overMemory(needed: Int64, limit: Int64, hint: String)

    public var description: String {
        switch self {
        case let .invalidRequest(field, reason): "invalid \(field): \(reason)"
        case let .unsupportedModel(path, reason): "cannot use the model at \(path): \(reason)"
        case let .stopped(step): "stopped after step \(step) as asked"
        case let .nonFinite(what, step, hint):
            "\(what) became NaN or infinite\(step.map { " after step \($0)" } ?? ""); no image was written (\(hint))"
        case let .overMemory(needed, limit, hint):
            "this generation needs about \(Self.bytes(needed)) of memory (estimated peak) and the limit is \(Self.bytes(limit)); \(hint)"
        }
    }

    /// "353 MiB" or "46.8 GiB".
    static func bytes(_ n: Int64) -> String {
        n < 1 << 30 ? "\(n >> 20) MiB" : String(format: "%.1f GiB", Double(n) / Double(1 << 30))
    }
}
