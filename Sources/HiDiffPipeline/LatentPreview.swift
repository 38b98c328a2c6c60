import HiDiffCore
import HiDiffImage

/// A cheap preview of a latent: each latent pixel mapped to RGB by a fixed linear projection, as
/// AUTOMATIC1111's "Approx cheap" and ComfyUI's "latent2rgb" previews do. No VAE call: a 64 x 64 latent costs
/// about 1 ms with its PNG on the 2-core test machine (a 512 x 512 one 12 ms), so a worker can send one
/// every few steps.
///
/// - SD 1.x/2.x latents (4 channels, the VAE's `scaling_factor` 0.18215): ComfyUI's `SD15` factors.
/// - SDXL latents (4 channels, `scaling_factor` 0.13025): ComfyUI's `SDXL` factors.
///
/// Both map a channel vector `z` to `rgb = z · factors`, then `(rgb + 1) / 2` clamped to [0, 1] and scaled to
/// 0-255. The factors were fitted to those VAEs, so any other latent space (other channel counts, or a VAE
/// of its own such as the demo model `shapes`, scaling factor 0.59148) uses `normalizedChannels`: the first
/// three channels (one channel repeated when fewer), each stretched from its own minimum to its maximum
/// over the image. The colours then mean nothing, but the shapes forming are visible.
public struct LatentPreview: Sendable, Equatable {
    /// How latent channels become RGB.
    public enum Projection: Sendable, Equatable {
        /// `rgb = z · factors` (one row of three per channel), then `(rgb + 1) / 2` clamped to [0, 1].
        case linear(name: String, factors: [[Float]])
        /// The first three channels, each min-max normalised over the image.
        case normalizedChannels
    }

    /// ComfyUI's `latent_formats.SD15.latent_rgb_factors` (rows: latent channels; columns: R, G, B).
    public static let sd15Factors: [[Float]] = [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ]

    /// ComfyUI's `latent_formats.SDXL.latent_rgb_factors`.
    public static let sdxlFactors: [[Float]] = [
        [0.3920, 0.4054, 0.4549],
        [-0.2634, -0.0196, 0.0653],
        [0.0568, 0.1687, -0.0755],
        [-0.3112, -0.2359, -0.2076],
    ]

    /// The projection used.
    public let projection: Projection
    /// The longest side of a preview in pixels; larger latents are box-averaged down by an integer factor.
    public let maxSide: Int

    public init(projection: Projection, maxSide: Int = 256) {
        precondition(maxSide >= 1, "maxSide must be positive")
        self.projection = projection
        self.maxSide = maxSide
    }

    /// The projection for a model: its family's factors when its VAE is that family's (4 latent channels and
    /// the family's scaling factor), else `normalizedChannels`.
    public static func projection(family: ModelFamily, latentChannels: Int, scalingFactor: Float) -> Projection {
        guard latentChannels == 4 else { return .normalizedChannels }
        switch family {
        case .sd where abs(scalingFactor - 0.18215) < 1e-4:
            return .linear(name: "sd15", factors: sd15Factors)
        case .sdxl where abs(scalingFactor - 0.13025) < 1e-4, .sdxlTurbo where abs(scalingFactor - 0.13025) < 1e-4:
            return .linear(name: "sdxl", factors: sdxlFactors)
        default:
            return .normalizedChannels
        }
    }

    /// The preview a pipeline's latents get.
    public init(pipeline: StableDiffusionPipeline, maxSide: Int = 256) {
        self.init(projection: Self.projection(family: pipeline.family, latentChannels: pipeline.vae.config.latentChannels,
                                              scalingFactor: pipeline.vae.config.scalingFactor),
                  maxSide: maxSide)
    }

    /// The preview of the first image of `latents` (`[N, C, h, w]`), at latent resolution, or box-averaged
    /// by the smallest integer factor that brings the longest side to at most `maxSide` (the last row and
    /// column of boxes take the remainder). Non-finite values count as 0.
    public func image(_ latents: Tensor) -> RGBImage {
        precondition(latents.rank == 4 && latents.dim(0) >= 1 && latents.dim(1) >= 1, "latents must be [N, C, h, w], got \(latents.shape)")
        let channels = latents.dim(1), height = latents.dim(2), width = latents.dim(3)
        let factor = max(1, (max(height, width) + maxSide - 1) / maxSide)
        let outH = max(1, height / factor), outW = max(1, width / factor)
        let plane = height * width
        // Box-average every channel used (the projection is linear, so averaging first is exact for it).
        let used = min(channels, projection == .normalizedChannels ? 3 : channels)
        var reduced = [[Float]](repeating: [Float](repeating: 0, count: outH * outW), count: used)
        latents.data.withUnsafeBufferPointer { data in
            for c in 0..<used {
                let base = c * plane
                for y in 0..<outH {
                    // The last output row and column take what is left over (at most factor - 1 more).
                    let rows = (y * factor)..<(y == outH - 1 ? height : (y + 1) * factor)
                    for x in 0..<outW {
                        let columns = (x * factor)..<(x == outW - 1 ? width : (x + 1) * factor)
                        var sum: Float = 0
                        for r in rows {
                            for col in columns {
                                let v = data[base + r * width + col]
                                sum += v.isFinite ? v : 0
                            }
                        }
                        reduced[c][y * outW + x] = sum / Float(rows.count * columns.count)
                    }
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: outH * outW * 3)
        switch projection {
        case .linear(_, let factors):
            let rows = min(used, factors.count)
            for i in 0..<(outH * outW) {
                for k in 0..<3 {
                    var v: Float = 0
                    for c in 0..<rows { v += reduced[c][i] * factors[c][k] }
                    pixels[i * 3 + k] = Self.byte((v + 1) / 2)
                }
            }
        case .normalizedChannels:
            for k in 0..<3 {
                let values = reduced[min(k, used - 1)]
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                let span = hi - lo
                for i in 0..<(outH * outW) {
                    pixels[i * 3 + k] = span > 0 ? Self.byte((values[i] - lo) / span) : 128
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: pixels)
    }

    /// `unit` in [0, 1] (clamped) as 0-255, rounded to nearest.
    static func byte(_ unit: Float) -> UInt8 {
        UInt8((min(max(unit, 0), 1) * 255).rounded())
    }
}
