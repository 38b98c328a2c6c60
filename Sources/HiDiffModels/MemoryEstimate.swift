import HiDiffCore

/// An estimate of one worker's peak memory for a generation split over K row stripes: the weights, a fixed
/// base (runtime, text encoders' activations, allocator slack), and the larger of the U-Net's and the VAE
/// decoder's activations. The stripe-local activations fall as 1/K; what sharded attention gathers (keys and
/// values of the whole map) and the assembled image do not.
///
/// The live-tensor counts follow the engine's code (the skips of every level, the feed-forward and
/// attention temporaries of the widest attention level, four maps of the VAE's top level); `slack` and
/// `baseBytes` were fitted to peak RSS measured on the demo model: a U-Net step in `hidiff bench shard` at
/// 512 and 1024 px for K = 1, 2, 4 (activations within 10%) and a whole 512 px `hidiff generate` (343 MiB
/// measured, 353 MiB estimated). It is meant to pick K and to refuse what cannot run, not to account for
/// every byte.
public enum MemoryEstimate {
    public static let baseBytes: Int64 = 150 << 20
    public static let slack = 1.45

    /// Peak bytes on each of `parts` workers for a `width` x `height` image; `batch` is 2 with guidance.
    public static func perWorker(_ shape: ModelShape, width: Int, height: Int, batch: Int, parts: Int) -> Int64 {
        let k = Double(max(parts, 1))
        let f = max(shape.vaeFactor, 1)
        let (h, w) = ((Double(height) / Double(f)).rounded(.up), (Double(width) / Double(f)).rounded(.up))
        var skips = 0.0, working = 0.0, gathered = 0.0
        for (level, channels) in shape.unetChannels.enumerated() {
            let scale = Double(1 << level)
            let pixels = (h / scale).rounded(.up) * (w / scale).rounded(.up)
            let last = level == shape.unetChannels.count - 1
            skips += Double(shape.unetLayers + (last ? 0 : 1)) * Double(channels) * pixels
            let attention = level < shape.attentionLevels.count && shape.attentionLevels[level]
            // Attention levels: GEGLU's 8C-wide projection plus q, k, v, the output and the residual.
            working = max(working, (attention ? 13.0 : 5.0) * Double(channels) * pixels)
            if attention && parts > 1 { gathered = max(gathered, 2 * Double(channels) * pixels) }
        }
        let unet = Double(batch) * 4 * ((skips + working) / k + gathered)
        let imagePixels = Double(width) * Double(height)
        let top = Double(shape.vaeChannels.first ?? 128)
        let vae = 4 * (4 * top * imagePixels / k + (parts > 1 ? 3 * imagePixels : 0)) + 3 * imagePixels
        // In Double and clamped: the shape may come from the network (a worker's registration).
        let total = Double(baseBytes) + Double(max(shape.weightBytes, 0)) + slack * max(unet, vae)
        guard total.isFinite, total < 9e18 else { return .max }
        return Int64(total)
    }

    /// The fewest parts, up to `maxParts`, whose estimate fits in `memory` bytes per worker; nil if none does.
    public static func parts(for shape: ModelShape, width: Int, height: Int, batch: Int, memory: Int64,
                             maxParts: Int) -> Int? {
        guard maxParts >= 1 else { return nil }
        return (1...maxParts).first { perWorker(shape, width: width, height: height, batch: batch, parts: $0) <= memory }
    }
}
