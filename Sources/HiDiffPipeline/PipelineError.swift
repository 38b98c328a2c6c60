/// Why a generation request cannot run (each case names the field and the limit), or why it stopped.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(field: String, reason: String)
    case unsupportedModel(path: String, reason: String)
    /// `DenoiseControl.shouldStop` asked to stop; `atStep` steps were done (the checkpoint handed to
    /// `onCheckpoint` resumes from there).
    case stopped(atStep: Int)
    /// A NaN or infinity appeared (after denoising step `step`, when known); nothing is written.
    case nonFinite(what: String, step: Int?, hint: String)

    public var description: String {
        switch self {
        case let .invalidRequest(field, reason): "invalid \(field): \(reason)"
        case let .unsupportedModel(path, reason): "cannot use the model at \(path): \(reason)"
        case let .stopped(step): "stopped after step \(step) as asked"
        case let .nonFinite(what, step, hint):
            "\(what) became NaN or infinite\(step.map { " after step \($0)" } ?? ""); no image was written (\(hint))"
        }
    }
}
