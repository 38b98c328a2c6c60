import HiDiffCore

/// A model a worker can run, as announced in `register`.
public struct ModelInfo: Sendable, Equatable, Codable {
    /// The model's name as jobs refer to it.
    public var name: String
    /// The architecture family (e.g. "sd15", "sdxl").
    public var family: String
    /// The native output size in pixels (one side).
    public var nativeSize: Int
    /// What its memory use depends on (for `MemoryEstimate`); nil when the worker could not read its configs.
    public var shape: ModelShape?

    /// Memberwise.
    public init(name: String, family: String, nativeSize: Int, shape: ModelShape? = nil) {
        self.shape = shape
        self.name = name
        self.family = family
        self.nativeSize = nativeSize
    }
}
