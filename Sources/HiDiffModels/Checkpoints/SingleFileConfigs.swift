/// The diffusers configs of a single-file checkpoint's components.
public struct SingleFileConfigs: Sendable {
    public var unet: UNetConfig
    public var vae: VAEConfig
    public var textEncoder: CLIPTextConfig
    /// SDXL's OpenCLIP bigG (with projection); nil for SD 1.x / 2.x.
    public var textEncoder2: CLIPTextConfig?
}
