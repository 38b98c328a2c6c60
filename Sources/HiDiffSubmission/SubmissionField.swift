import HiDiffPipeline

/// A part of a submission that validation can refuse: its name in JSON (the HTTP API) and the `hidiff submit`
/// option that sets it, so each caller names it the way its user wrote it.
public enum SubmissionField: Sendable, Equatable {
    case model, seeds, prompts, priority, batch, initImage
    case maxAttempts
    case workers
    /// A field of the generation request itself.
    case request(RequestField)

    /// The JSON key (the HTTP API's name for it).
    public var key: String {
        switch self {
        case .model: "model"
        case .seeds: "seeds"
        case .prompts: "prompt"
        case .priority: "priority"
        case .batch: "batch"
        case .initImage: "init_image"
        case .maxAttempts: "max_attempts"
        case .workers: "workers"
        case .request(let field): field.rawValue
        }
    }

    /// The `hidiff submit` option.
    public var option: String {
        switch self {
        case .model: "--model"
        case .seeds: "--seeds"
        case .prompts: "--prompt"
        case .priority: "--priority"
        case .batch: "--batch"
        case .initImage: "--init-image"
        case .maxAttempts: "--max-attempts"
        case .workers: "--workers"
        case .request(let field): field.option
        }
    }
}
