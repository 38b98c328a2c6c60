import HiDiffModels

/// The Stable Diffusion families hidiff knows; they decide text conditioning, defaults and where
/// HiDiffusion's operators go.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// Stable Diffusion 1.x and 2.x (one CLIP text encoder, 4 U-Net levels, native 512 or 768 px).
    case sd
    /// SDXL base and its fine-tunes (two text encoders, `text_time` added conditions, native 1024 px).
    case sdxl
    /// SDXL-Turbo (SDXL layout distilled for 1-4 steps at 512 px, no classifier-free guidance).
    case sdxlTurbo = "sdxl-turbo"

    /// The family a model's configuration describes: SDXL layouts carry `addition_embed_type = "text_time"`;
    /// among those, Turbo is recognised by its name or by its native 512 px size (`sample_size` 64) with
    /// trailing timestep spacing, as stabilityai/sdxl-turbo ships.
    public static func detect(unet: UNetConfig, name: String?, trailingSpacing: Bool) -> ModelFamily {
        guard unet.addition == "text_time" else { return .sd }
        if let name, name.lowercased().contains("turbo") { return .sdxlTurbo }
        if unet.sampleSize == 64 && trailingSpacing { return .sdxlTurbo }
        return .sdxl
    }
}
