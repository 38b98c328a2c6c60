/// How the benchmark generates at a size: the model's plain U-Net, or with HiDiffusion.
public enum DuplicationMode: String, CaseIterable, Codable, Sendable {
    /// Direct inference (`HiDiffusionMode.off`).
    case direct
    /// HiDiffusion with its default settings (`HiDiffusionMode.on`, `HiDiffusionSettings()`).
    case hidiffusion
}
