/// `UNet2DConditionModel`'s config.json as diffusers 0.29.2 reads it: same keys, same defaults.
///
/// Options that change the computation but are not implemented are decoded too, and `validate()` rejects
/// non-default values with an error naming the option, so an unfamiliar checkpoint fails loudly.
public struct UNetConfig: Decodable, Sendable, Equatable {
    public var sampleSize: Int?
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var downBlockTypes: [String]
    public var midBlockType: String?
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: PerBlockValue<Int>
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var actFn: String
    public var normNumGroups: Int?
    public var normEps: Float
    public var crossAttentionDim: PerBlockValue<Int>
    public var transformerLayersPerBlock: PerBlockValue<Int>
    /// diffusers' misnomer: without `num_attention_heads` this is the number of heads per block.
    public var attentionHeadDim: PerBlockValue<Int>
    public var numAttentionHeads: PerBlockValue<Int>?
    public var useLinearProjection: Bool
    /// Upcasts attention to fp32 in half precision; a no-op here (everything is fp32).
    public var upcastAttention: Bool
    public var addition: String?
    public var additionTimeEmbedDim: Int?
    public var projectionClassEmbeddingsInputDim: Int?
    public var convInKernel: Int
    public var convOutKernel: Int
    public var timeEmbeddingDim: Int?

    /// Non-default values of options this port does not implement, in key order; `validate()` throws the first.
    public var rejectedOptions: [ModelConfigError] = []

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift", downBlockTypes = "down_block_types", midBlockType = "mid_block_type"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps"
        case crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case useLinearProjection = "use_linear_projection", upcastAttention = "upcast_attention"
        case addition = "addition_embed_type", additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case timeEmbeddingDim = "time_embedding_dim"
        // Unsupported unless default.
        case onlyCrossAttention = "only_cross_attention", dualCrossAttention = "dual_cross_attention"
        case classEmbedType = "class_embed_type", numClassEmbeds = "num_class_embeds"
        case encoderHidDim = "encoder_hid_dim", encoderHidDimType = "encoder_hid_dim_type"
        case resnetTimeScaleShift = "resnet_time_scale_shift", resnetSkipTimeAct = "resnet_skip_time_act"
        case resnetOutScaleFactor = "resnet_out_scale_factor", timeEmbeddingType = "time_embedding_type"
        case timeEmbeddingActFn = "time_embedding_act_fn", timestepPostAct = "timestep_post_act"
        case timeCondProjDim = "time_cond_proj_dim", attentionType = "attention_type"
        case classEmbeddingsConcat = "class_embeddings_concat"
        case midBlockOnlyCrossAttention = "mid_block_only_cross_attention"
        case crossAttentionNorm = "cross_attention_norm"
        case reverseTransformerLayersPerBlock = "reverse_transformer_layers_per_block"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ def: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? def
        }
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        inChannels = try value(.inChannels, 4)
        outChannels = try value(.outChannels, 4)
        centerInputSample = try value(.centerInputSample, false)
        flipSinToCos = try value(.flipSinToCos, true)
        freqShift = try value(.freqShift, 0)
        downBlockTypes = try value(.downBlockTypes, ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                     "CrossAttnDownBlock2D", "DownBlock2D"])
        // A JSON null means "no mid block"; an absent key means the default.
        if c.contains(.midBlockType) {
            midBlockType = try c.decodeIfPresent(String.self, forKey: .midBlockType)
        } else {
            midBlockType = "UNetMidBlock2DCrossAttn"
        }
        upBlockTypes = try value(.upBlockTypes, ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                                 "CrossAttnUpBlock2D"])
        blockOutChannels = try value(.blockOutChannels, [320, 640, 1280, 1280])
        layersPerBlock = try value(.layersPerBlock, .uniform(2))
        downsamplePadding = try value(.downsamplePadding, 1)
        midBlockScaleFactor = try value(.midBlockScaleFactor, 1)
        actFn = try value(.actFn, "silu")
        normNumGroups = c.contains(.normNumGroups) ? try c.decodeIfPresent(Int.self, forKey: .normNumGroups) : 32
        normEps = try value(.normEps, 1e-5)
        crossAttentionDim = try value(.crossAttentionDim, .uniform(1280))
        do {
            transformerLayersPerBlock = try value(.transformerLayersPerBlock, .uniform(1))
        } catch {
            throw ModelConfigError.unsupported(field: "transformer_layers_per_block",
                                               value: "nested per-layer lists (asymmetric U-Net)")
        }
        attentionHeadDim = try value(.attentionHeadDim, .uniform(8))
        numAttentionHeads = try c.decodeIfPresent(PerBlockValue<Int>.self, forKey: .numAttentionHeads)
        useLinearProjection = try value(.useLinearProjection, false)
        upcastAttention = try value(.upcastAttention, false)
        addition = try c.decodeIfPresent(String.self, forKey: .addition)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(
            Int.self, forKey: .projectionClassEmbeddingsInputDim)
        convInKernel = try value(.convInKernel, 3)
        convOutKernel = try value(.convOutKernel, 3)
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)

        // Record every non-default value of an option this port does not implement.
        func reject<T: Decodable & Equatable>(_ key: CodingKeys, _ type: T.Type, allowed: [T?]) {
            guard c.contains(key) else { return }
            let v = try? c.decodeIfPresent(T.self, forKey: key)
            if !allowed.contains(where: { $0 == v }) {
                rejectedOptions.append(.unsupported(field: key.rawValue, value: v.map { "\($0)" } ?? "(unreadable value)"))
            }
        }
        if c.contains(.onlyCrossAttention) {
            let v = try? c.decode(PerBlockValue<Bool>.self, forKey: .onlyCrossAttention)
            let anyTrue: Bool
            switch v {
            case .uniform(let b)?: anyTrue = b
            case .perBlock(let l)?: anyTrue = l.contains(true)
            case nil: anyTrue = (try? c.decodeNil(forKey: .onlyCrossAttention)) != true
            }
            if anyTrue { rejectedOptions.append(.unsupported(field: "only_cross_attention", value: "true")) }
        }
        reject(.dualCrossAttention, Bool.self, allowed: [nil, false])
        reject(.classEmbedType, String.self, allowed: [nil])
        reject(.numClassEmbeds, Int.self, allowed: [nil])
        reject(.encoderHidDim, Int.self, allowed: [nil])
        reject(.encoderHidDimType, String.self, allowed: [nil])
        reject(.resnetTimeScaleShift, String.self, allowed: [nil, "default"])
        reject(.resnetSkipTimeAct, Bool.self, allowed: [nil, false])
        reject(.resnetOutScaleFactor, Double.self, allowed: [nil, 1.0])
        reject(.timeEmbeddingType, String.self, allowed: [nil, "positional"])
        reject(.timeEmbeddingActFn, String.self, allowed: [nil])
        reject(.timestepPostAct, String.self, allowed: [nil])
        reject(.timeCondProjDim, Int.self, allowed: [nil])
        reject(.attentionType, String.self, allowed: [nil, "default"])
        reject(.classEmbeddingsConcat, Bool.self, allowed: [nil, false])
        reject(.midBlockOnlyCrossAttention, Bool.self, allowed: [nil, false])
        reject(.crossAttentionNorm, String.self, allowed: [nil])
        if (try? c.decodeNil(forKey: .reverseTransformerLayersPerBlock)) == false {
            rejectedOptions.append(.unsupported(field: "reverse_transformer_layers_per_block", value: "a list"))
        }
    }

    /// Throws the first option this port cannot run as diffusers would, then range-checks the values
    /// (`checkValues(file:)` with "unet config" as the file).
    public func validate() throws {
        if let first = rejectedOptions.first { throw first }
        if numAttentionHeads != nil {
            // diffusers 0.29.2 raises here too (the head-count naming issue, diffusers#2011).
            throw ModelConfigError.unsupported(
                field: "num_attention_heads",
                value: "set (diffusers 0.29.2 rejects it; attention_head_dim is the head count)")
        }
        if let addition, addition != "text_time" {
            throw ModelConfigError.unsupported(field: "addition_embed_type", value: addition)
        }
        if addition == "text_time" && (additionTimeEmbedDim == nil || projectionClassEmbeddingsInputDim == nil) {
            throw ModelConfigError.invalid(
                field: "addition_embed_type",
                reason: "\"text_time\" needs addition_time_embed_dim and projection_class_embeddings_input_dim")
        }
        if let midBlockType, midBlockType != "UNetMidBlock2DCrossAttn" {
            throw ModelConfigError.unsupported(field: "mid_block_type", value: midBlockType)
        }
        if normNumGroups == nil {
            throw ModelConfigError.unsupported(field: "norm_num_groups", value: "null")
        }
        _ = try DiffusersActivation(configValue: actFn, field: "act_fn")
        let n = blockOutChannels.count
        guard n > 0 else { throw ModelConfigError.invalid(field: "block_out_channels", reason: "is empty") }
        guard downBlockTypes.count == n, upBlockTypes.count == n else {
            throw ModelConfigError.invalid(
                field: "down_block_types/up_block_types",
                reason: "have \(downBlockTypes.count)/\(upBlockTypes.count) entries for \(n) block_out_channels")
        }
        for t in downBlockTypes where t != "CrossAttnDownBlock2D" && t != "DownBlock2D" {
            throw ModelConfigError.unsupported(field: "down_block_types", value: t)
        }
        for t in upBlockTypes where t != "CrossAttnUpBlock2D" && t != "UpBlock2D" {
            throw ModelConfigError.unsupported(field: "up_block_types", value: t)
        }
        for k in [convInKernel, convOutKernel] where k % 2 == 0 {
            throw ModelConfigError.invalid(field: "conv_in_kernel/conv_out_kernel", reason: "is even (\(k))")
        }
        _ = try resolvedBlocks()
        try checkValues(file: "unet config")
    }

    /// Per-block settings after diffusers' broadcasting rules (down-block order).
    public struct BlockSettings: Sendable, Equatable {
        public var layers: [Int]
        public var heads: [Int]
        public var crossAttentionDims: [Int]
        public var transformerLayers: [Int]
    }

    /// Broadcasts the int-or-list fields to one value per block, with diffusers' head-count rule.
    public func resolvedBlocks() throws -> BlockSettings {
        let n = blockOutChannels.count
        let heads = try (numAttentionHeads ?? attentionHeadDim).values(count: n, field: "attention_head_dim")
        for (i, h) in heads.enumerated() where h <= 0 || blockOutChannels[i] % h != 0 {
            throw ModelConfigError.invalid(
                field: "attention_head_dim",
                reason: "block \(i): \(blockOutChannels[i]) channels do not split into \(h) heads")
        }
        return BlockSettings(
            layers: try layersPerBlock.values(count: n, field: "layers_per_block"),
            heads: heads,
            crossAttentionDims: try crossAttentionDim.values(count: n, field: "cross_attention_dim"),
            transformerLayers: try transformerLayersPerBlock.values(count: n, field: "transformer_layers_per_block"))
    }

    /// Width of the time embedding fed to every resnet.
    public var timeEmbedDim: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }
}
