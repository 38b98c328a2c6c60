/// What HiDiffusion does in one generation: which of its two mechanisms run and how RAU-Net's phases are
/// chosen (hidiffusion-spec.md §1.5, §2).
///
/// The settings are pure configuration: nothing carries over from one generation to the next (the authors'
/// package keeps step counters and the SDXL aggressive flag on its modules; see `HiDiffusionSchedule` for the
/// "fresh" behaviour this port implements). Encoded into the PNG metadata as JSON.
public struct HiDiffusionSettings: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Which threshold entry (the authors' `switching_threshold_ratio_dict`) a latent size selects.
    public enum Thresholds: String, Codable, Sendable, CaseIterable {
        /// By the scale relative to the model's native latent size: min(h, w) < 4 x native -> the 2x entry
        /// (`sd15_1024` / `sdxl_2048`), else the 4x entry (`sd15_2048` / `sdxl_4096`). Agrees with `reference`
        /// on the official checkpoints (native 64 for SD 1.5 / 2.1-base, 128 for SDXL).
        case relative
        /// The authors' absolute rule: the 4x entry iff both latent sides are >= 256 (SD) or >= 512 (SDXL).
        case reference
    }

    /// SDXL's "aggressive" RAU-Net: RAD conv for k < int(8/50 N), then pool/bicubic until int(N T1).
    public enum Aggressive: String, Codable, Sendable, CaseIterable {
        /// The authors' fresh-process decision: on for SDXL at the 2x entry unless the model name contains
        /// "inpainting" or "playground"; off otherwise (SD, Turbo, SDXL at the 4x entry).
        case auto
        /// Forced on for any family (what the authors' modules do with the flag set, e.g. after quirk Q1).
        case on
        /// Forced off.
        case off
    }

    /// How MSW-MSA picks each block call's shift bucket q (shift = q * floor(window / 4) per axis).
    public enum WindowShift: Codable, Sendable, Equatable, CustomStringConvertible {
        /// q from a seeded hash of (seed, call index, block ordinal): uniform over 0...3 like the authors'
        /// `torch.rand` buckets, but reproducible and identical on every node.
        case seeded
        /// The same q for every block call (0...3), for comparisons.
        case fixed(Int)

        public var description: String {
            switch self {
            case .seeded: return "seeded"
            case .fixed(let q): return String(q)
            }
        }

        /// Parses "seeded" or "0"..."3" (the CLI's `--msw-shift`).
        public init?(_ text: String) {
            if text == "seeded" {
                self = .seeded
            } else if let q = Int(text), (0...3).contains(q) {
                self = .fixed(q)
            } else {
                return nil
            }
        }

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let value = WindowShift(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "window shift \"\(text)\": expected \"seeded\" or 0...3")
            }
            self = value
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// RAU-Net (resolution-aware down/upsampling of one U-Net level during the first steps).
    public var raunet: Bool
    /// MSW-MSA (shifted 2x2-window self-attention at the highest attention level, every step).
    public var windowAttention: Bool
    /// Overrides the selected entry's T1_ratio / T2_ratio (each in 0...1).
    public var t1Ratio: Double?
    public var t2Ratio: Double?
    public var aggressive: Aggressive
    public var thresholds: Thresholds
    public var windowShift: WindowShift

    public init(raunet: Bool = true, windowAttention: Bool = true, t1Ratio: Double? = nil, t2Ratio: Double? = nil,
                aggressive: Aggressive = .auto, thresholds: Thresholds = .relative, windowShift: WindowShift = .seeded) {
        self.raunet = raunet
        self.windowAttention = windowAttention
        self.t1Ratio = t1Ratio
        self.t2Ratio = t2Ratio
        self.aggressive = aggressive
        self.thresholds = thresholds
        self.windowShift = windowShift
    }

    enum CodingKeys: String, CodingKey {
        case raunet, windowAttention, t1Ratio, t2Ratio, aggressive, thresholds, windowShift
    }

    /// Missing keys take their defaults, so older or hand-written JSON still decodes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HiDiffusionSettings()
        raunet = try c.decodeIfPresent(Bool.self, forKey: .raunet) ?? d.raunet
        windowAttention = try c.decodeIfPresent(Bool.self, forKey: .windowAttention) ?? d.windowAttention
        t1Ratio = try c.decodeIfPresent(Double.self, forKey: .t1Ratio)
        t2Ratio = try c.decodeIfPresent(Double.self, forKey: .t2Ratio)
        aggressive = try c.decodeIfPresent(Aggressive.self, forKey: .aggressive) ?? d.aggressive
        thresholds = try c.decodeIfPresent(Thresholds.self, forKey: .thresholds) ?? d.thresholds
        windowShift = try c.decodeIfPresent(WindowShift.self, forKey: .windowShift) ?? d.windowShift
    }

    /// Both mechanisms off: the vanilla U-Net.
    public static let disabled = HiDiffusionSettings(raunet: false, windowAttention: false)

    public var isEnabled: Bool { raunet || windowAttention }

    /// Throws `HiDiffusionError.invalidSetting` for ratios outside 0...1 or a fixed shift outside 0...3.
    public func validate() throws {
        for (name, ratio) in [("t1-ratio", t1Ratio), ("t2-ratio", t2Ratio)] {
            if let r = ratio, !(r >= 0 && r <= 1) {
                throw HiDiffusionError.invalidSetting(name: name, value: "\(r)", expected: "a number in 0...1")
            }
        }
        if case .fixed(let q) = windowShift, !(0...3).contains(q) {
            throw HiDiffusionError.invalidSetting(name: "msw-shift", value: "\(q)", expected: "seeded or 0...3")
        }
    }

    /// e.g. `raunet=on window-attn=on thresholds=relative aggressive=auto msw-shift=seeded`.
    public var description: String {
        var parts = ["raunet=\(raunet ? "on" : "off")", "window-attn=\(windowAttention ? "on" : "off")",
                     "thresholds=\(thresholds.rawValue)", "aggressive=\(aggressive.rawValue)",
                     "msw-shift=\(windowShift)"]
        if let t1Ratio { parts.append("t1-ratio=\(t1Ratio)") }
        if let t2Ratio { parts.append("t2-ratio=\(t2Ratio)") }
        return parts.joined(separator: " ")
    }
}
