/// A job to submit.
public struct NewJob: Sendable {
    /// The model the job needs (claims only hand it to workers that list this model).
    public var model: String
    /// The GenerationRequest as a JSON object (seed included); stored as jsonb, so key order and spacing
    /// come back normalised.
    public var requestJSON: String
    /// Denoising steps (>= 1).
    public var steps: Int
    /// The img2img input, if any.
    public var initImage: [UInt8]?
    /// Higher runs first.
    public var priority: Int
    /// How many attempts (claims) the job may use before a failure is final (>= 1).
    public var maxAttempts: Int
    /// How many workers render the job together, its latent split into that many row stripes (1...64);
    /// nil: one worker.
    public var groupSize: Int?

    /// Creates a job description.
    public init(model: String, requestJSON: String, steps: Int, initImage: [UInt8]? = nil,
                priority: Int = 0, maxAttempts: Int = 3, groupSize: Int? = nil) {
        self.groupSize = groupSize
        self.model = model
        self.requestJSON = requestJSON
        self.steps = steps
        self.initImage = initImage
        self.priority = priority
        self.maxAttempts = maxAttempts
    }
}
