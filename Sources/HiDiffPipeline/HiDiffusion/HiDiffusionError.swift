import HiDiffModels

/// Why HiDiffusion cannot run as configured.
public enum HiDiffusionError: Error, CustomStringConvertible, Equatable {
    /// A setting out of range (`name` as the CLI spells it).
    case invalidSetting(name: String, value: String, expected: String)
    /// The U-Net's block layout lacks what the family's operators need (e.g. SD wants 4 levels with a
    /// 2-pair cross-attention `down_blocks.1`).
    case layoutMismatch(family: ModelFamily, problem: String)

    public var description: String {
        switch self {
        case let .invalidSetting(name, value, expected):
            return "HiDiffusion setting \(name) = \(value): expected \(expected)"
        case let .layoutMismatch(family, problem):
            return "HiDiffusion for the \(family.rawValue) family cannot run on this U-Net: \(problem)"
        }
    }
}
