/// The original (CompVis / Stability "ldm") single-file layouts hidiff reads, told apart by their tensor names.
///
/// - `sd1`: `model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.*` (the
///   transformers CLIP-L text model, 768-wide context).
/// - `sd2`: the same U-Net and VAE, `cond_stage_model.model.*` (OpenCLIP ViT-H, 1024-wide context, fused
///   attention `in_proj` weights, conditioning on the penultimate block).
/// - `sdxl`: `model.diffusion_model.*`, `first_stage_model.*`, `conditioner.embedders.0.transformer.*`
///   (CLIP-L) and `conditioner.embedders.1.model.*` (OpenCLIP bigG with `text_projection`).
public enum CheckpointLayout: String, Sendable, Equatable, CaseIterable {
    case sd1 = "SD 1.x"
    case sd2 = "SD 2.x"
    case sdxl = "SDXL"

    /// The U-Net's key prefix (all layouts).
    public static let unetPrefix = "model.diffusion_model."
    /// The VAE's key prefix (all layouts).
    public static let vaePrefix = "first_stage_model."

    /// The prefix of the first text encoder's tensors.
    public var textEncoderPrefix: String {
        switch self {
        case .sd1: "cond_stage_model.transformer."
        case .sd2: "cond_stage_model.model."
        case .sdxl: "conditioner.embedders.0.transformer."
        }
    }

    /// The prefix of the second text encoder's tensors (SDXL's OpenCLIP bigG), nil for one-encoder layouts.
    public var textEncoder2Prefix: String? {
        self == .sdxl ? "conditioner.embedders.1.model." : nil
    }

    /// Whether the first text encoder is stored in OpenCLIP's layout (else transformers' CLIP layout).
    public var firstEncoderIsOpenCLIP: Bool { self == .sd2 }

    /// The layout `names` are in, or nil when they match none (the caller reports what was found).
    ///
    /// SDXL is checked first: its files have no `cond_stage_model.*`; SD 1.x and 2.x differ by the text
    /// encoder's layout. The U-Net and VAE prefixes are required for every layout.
    public static func detect(_ names: [String]) -> CheckpointLayout? {
        func has(_ prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }
        guard has(unetPrefix), has(vaePrefix) else { return nil }
        if has(CheckpointLayout.sdxl.textEncoderPrefix), has("conditioner.embedders.1.model.") { return .sdxl }
        if has(CheckpointLayout.sd1.textEncoderPrefix) { return .sd1 }
        if has(CheckpointLayout.sd2.textEncoderPrefix) { return .sd2 }
        return nil
    }
}
