extension VAEConfig: ConfigValueChecking {
    /// Range-checks the numeric fields: positive channels and layer counts, a group count dividing every
    /// block's channels, a finite non-zero `scaling_factor` (0 would turn every latent into NaN/black), and
    /// finite shift / latent statistics.
    ///
    /// - Parameter file: the config file named in the error.
    /// - Throws: `ModelConfigError.outOfRange` naming the file and the first bad field.
    public func checkValues(file: String) throws {
        let check = ConfigValueChecker(file: file)
        try check.positive("in_channels", inChannels)
        try check.positive("out_channels", outChannels)
        try check.positive("latent_channels", latentChannels)
        guard !blockOutChannels.isEmpty else {
            throw check.fail("block_out_channels", "[]", "one positive channel count per block")
        }
        try check.all("block_out_channels", blockOutChannels)
        if blockOutChannels.count > 12 {
            throw check.fail("block_out_channels", "\(blockOutChannels.count) blocks", "at most 12 blocks")
        }
        try check.positive("layers_per_block", layersPerBlock)
        try check.groups("norm_num_groups", normNumGroups, channels: blockOutChannels)
        if let sampleSize { try check.positive("sample_size", sampleSize) }
        guard scalingFactor.isFinite, scalingFactor != 0 else {
            throw check.fail("scaling_factor", "\(scalingFactor)", "a finite non-zero number (0.18215 for SD 1.x/2.x, 0.13025 for SDXL)")
        }
        if let shiftFactor, !shiftFactor.isFinite {
            throw check.fail("shift_factor", "\(shiftFactor)", "a finite number or null")
        }
        if let latentsMean, latentsMean.contains(where: { !$0.isFinite }) {
            throw check.fail("latents_mean", "\(latentsMean)", "finite numbers or null")
        }
        if let latentsStd, latentsStd.contains(where: { !$0.isFinite || $0 == 0 }) {
            throw check.fail("latents_std", "\(latentsStd)", "finite non-zero numbers or null")
        }
    }
}
