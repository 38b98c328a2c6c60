/// One entry of the authors' `switching_threshold_ratio_dict` (hidiffusion 0.1.10, L84-90): the fractions of
/// the N steps during which RAU-Net's two stages run. Which operator reads which ratio depends on the family
/// (`HiDiffusionLayout`).
public enum ThresholdEntry: String, Codable, Sendable, CaseIterable {
    /// `sd15_1024`: SD 1.x/2.x at about 2x native.
    case sd2x = "sd15_1024"
    /// `sd15_2048`: SD 1.x/2.x at about 4x native.
    case sd4x = "sd15_2048"
    /// `sdxl_2048`: SDXL at about 2x native.
    case sdxl2x = "sdxl_2048"
    /// `sdxl_4096`: SDXL at about 4x native.
    case sdxl4x = "sdxl_4096"
    /// `sdxl_turbo_1024`: SDXL-Turbo at any size.
    case turbo = "sdxl_turbo_1024"

    /// T1_ratio: the main stage.
    public var t1Ratio: Double {
        switch self {
        case .sd2x, .sdxl2x: return 0.4
        case .sd4x, .sdxl4x: return 0.7
        case .turbo: return 0.5
        }
    }

    /// T2_ratio: the extreme-resolution stage (0 in the 2x entries: never).
    public var t2Ratio: Double {
        switch self {
        case .sd4x, .sdxl4x: return 0.3
        case .sd2x, .sdxl2x, .turbo: return 0
        }
    }

    /// True for the 2x entries (the ones under which the authors switch SDXL's aggressive mode on).
    public var isTwoTimes: Bool { self == .sd2x || self == .sdxl2x }
}
