/// Whether a generation uses HiDiffusion (`--hidiffusion`).
public enum HiDiffusionMode: String, Codable, Sendable, CaseIterable {
    /// On when either side of the image exceeds the model's native size.
    case auto
    case on
    case off

    /// Whether HiDiffusion runs for a `width` x `height` image on a model of `nativeSize` pixels.
    public func isActive(width: Int, height: Int, nativeSize: Int) -> Bool {
        switch self {
        case .on: return true
        case .off: return false
        case .auto: return width > nativeSize || height > nativeSize
        }
    }
}
