/// `AutoencoderKL`'s config.json as diffusers 0.29.2 reads it (same keys and defaults).
public struct VAEConfig: Decodable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var actFn: String
    public var latentChannels: Int
    public var normNumGroups: Int
    public var sampleSize: Int?
    /// Latents are `(z - shift) * scaling` for the U-Net; pipelines divide by it before decoding.
    public var scalingFactor: Float
    public var shiftFactor: Float?
    public var latentsMean: [Float]?
    public var latentsStd: [Float]?
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    // force_upcast only matters in half precision; ignored.

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", actFn = "act_fn", latentChannels = "latent_channels"
        case normNumGroups = "norm_num_groups", sampleSize = "sample_size", scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor", latentsMean = "latents_mean", latentsStd = "latents_std"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ def: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? def
        }
        inChannels = try value(.inChannels, 3)
        outChannels = try value(.outChannels, 3)
        downBlockTypes = try value(.downBlockTypes, ["DownEncoderBlock2D"])
        upBlockTypes = try value(.upBlockTypes, ["UpDecoderBlock2D"])
        blockOutChannels = try value(.blockOutChannels, [64])
        layersPerBlock = try value(.layersPerBlock, 1)
        actFn = try value(.actFn, "silu")
        latentChannels = try value(.latentChannels, 4)
        normNumGroups = try value(.normNumGroups, 32)
        // sample_size may be an int or a pair; only tiling uses it.
        sampleSize = try? c.decodeIfPresent(Int.self, forKey: .sampleSize)
        scalingFactor = try value(.scalingFactor, 0.18215)
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        latentsMean = try c.decodeIfPresent([Float].self, forKey: .latentsMean)
        latentsStd = try c.decodeIfPresent([Float].self, forKey: .latentsStd)
        useQuantConv = try value(.useQuantConv, true)
        usePostQuantConv = try value(.usePostQuantConv, true)
    }

    /// Pixels per latent cell along each axis: 2^(number of blocks - 1).
    public var downsamplingFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

    /// Throws for values this port does not implement or that cannot form a model (then range-checks the
    /// values with `checkValues(file:)`).
    public func validate() throws {
        let n = blockOutChannels.count
        guard n > 0 else { throw ModelConfigError.invalid(field: "block_out_channels", reason: "is empty") }
        guard downBlockTypes.count == n, upBlockTypes.count == n else {
            throw ModelConfigError.invalid(
                field: "down_block_types/up_block_types",
                reason: "have \(downBlockTypes.count)/\(upBlockTypes.count) entries for \(n) block_out_channels")
        }
        for t in downBlockTypes where t != "DownEncoderBlock2D" {
            throw ModelConfigError.unsupported(field: "down_block_types", value: t)
        }
        for t in upBlockTypes where t != "UpDecoderBlock2D" {
            throw ModelConfigError.unsupported(field: "up_block_types", value: t)
        }
        for ch in blockOutChannels where normNumGroups <= 0 || ch % normNumGroups != 0 {
            throw ModelConfigError.invalid(field: "norm_num_groups",
                                           reason: "(\(normNumGroups)) does not divide \(ch) channels")
        }
        _ = try DiffusersActivation(configValue: actFn, field: "act_fn")
        try checkValues(file: "vae config")
    }
}
