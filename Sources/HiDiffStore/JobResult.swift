/// The output of a succeeded job.
public struct JobResult: Sendable {
    /// The job.
    public let jobID: Int64
    /// The PNG file bytes.
    public let png: [UInt8]
    /// The final latents (opaque bytes).
    public let latents: [UInt8]
    /// Generation metadata as a JSON object (normalised by jsonb).
    public let metadataJSON: String

    /// Creates a result value.
    public init(jobID: Int64, png: [UInt8], latents: [UInt8], metadataJSON: String) {
        self.jobID = jobID
        self.png = png
        self.latents = latents
        self.metadataJSON = metadataJSON
    }
}
