import HiDiffCore

/// How the latent's rows are split among the K ranks of a sharded run: every stripe but the last holds a
/// multiple of `unit` rows (the U-Net's total downsampling, doubled twice when HiDiffusion's RAU-Net runs),
/// so every level of the U-Net and the VAE is striped at the same borders and no 2x2 pool window, stride or
/// window straddles two stripes in a way the ops do not handle. The last stripe takes the remainder.
///
/// The plan is a pure function of (height, K, unit), so every rank computes the same one.
public struct StripePlan: Sendable, Equatable {
    /// Latent rows of each rank, top first.
    public let rows: [Int]
    /// Every stripe but the last is a multiple of this.
    public let unit: Int

    /// Splits `latentHeight` rows into `parts` stripes, as equal as the unit allows.
    /// - Throws: `PipelineError.invalidRequest` when the latent is too short for that many stripes, naming
    ///   the most it can take.
    public init(latentHeight: Int, parts: Int, unit: Int) throws {
        guard parts >= 1, unit >= 1 else {
            throw PipelineError.invalidRequest(field: "workers", reason: "\(parts) must be at least 1")
        }
        self.unit = unit
        if parts == 1 {
            rows = [latentHeight]
            return
        }
        let most = StripePlan.maxParts(latentHeight: latentHeight, unit: unit)
        // Round to the nearest unit, at least one unit, leaving the last stripe at least one row.
        var share = max(unit, Int((Double(latentHeight) / Double(parts) / Double(unit)).rounded()) * unit)
        if share * (parts - 1) >= latentHeight { share = unit }
        guard share * (parts - 1) < latentHeight else {
            throw PipelineError.invalidRequest(
                field: "workers",
                reason: "a latent of \(latentHeight) rows cannot be split into \(parts) stripes of multiples of \(unit) rows "
                    + "(at most \(most) for this height; make the image taller or use fewer workers)")
        }
        rows = Array(repeating: share, count: parts - 1) + [latentHeight - share * (parts - 1)]
    }

    /// The most stripes a latent of this height can be split into.
    public static func maxParts(latentHeight: Int, unit: Int) -> Int {
        max(1, (latentHeight - 1) / max(unit, 1) + 1)
    }

    public var parts: Int { rows.count }

    /// The unit of a U-Net with `levels` resolution levels: its total downsampling, times 4 when HiDiffusion
    /// runs (RAU-Net's stride-4 downsampler and its 2x2 pool each take one more factor of 2).
    public static func unit(levels: Int, hidiffusion: Bool) -> Int {
        (1 << min(max(0, levels - 1), 16)) * (hidiffusion ? 4 : 1)
    }

    /// The first row of `rank`'s stripe.
    public func start(_ rank: Int) -> Int { rows[..<rank].reduce(0, +) }
}

extension StableDiffusionPipeline {
    /// The stripe unit of this model (`StripePlan.unit`).
    public func stripeUnit(hidiffusion: Bool) -> Int {
        StripePlan.unit(levels: unet.config.blockOutChannels.count, hidiffusion: hidiffusion)
    }
}
