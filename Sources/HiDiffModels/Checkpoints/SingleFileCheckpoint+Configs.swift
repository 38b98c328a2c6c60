import Foundation

extension SingleFileCheckpoint {
    /// The configs the tensors imply, with each family's conventions for what shapes do not show, as the
    /// original `.yaml` configs and diffusers' hub configs have them:
    ///
    /// - U-Net: levels, channels, layers, cross-attention levels and depths, context width, linear or conv
    ///   projections and SDXL's `text_time` sizes come from shapes; heads are 8 per block for SD 1.x and
    ///   64-wide for SD 2.x / SDXL; 32 norm groups; `sample_size` 64 (SD 1.x), 96 (SD 2.x, 768 px), 128
    ///   (SDXL), or 64 for a file whose name contains "turbo" (SDXL-Turbo, 512 px).
    /// - VAE: channels and layers from shapes; `scaling_factor` 0.18215, or 0.13025 for SDXL.
    /// - Text encoders: widths, depths and MLP sizes from shapes; 64-wide heads; CLIP-L uses quick_gelu,
    ///   OpenCLIP gelu; SD 2.x drops the last OpenCLIP block (it conditions on the penultimate one, as
    ///   diffusers' 23-layer SD 2 text encoder does); legacy `eos_token_id` 2 (pooling at argmax).
    ///
    /// - Throws: `CheckpointError.cannotDerive` when a width is not a multiple of 64 (a non-standard model:
    ///   give its configs as a folder), `.unsupportedVariant` for inpainting (9 input channels) U-Nets.
    public func derivedConfigs() throws -> SingleFileConfigs {
        let unet = try unetConfigJSON()
        let te2 = try layout.textEncoder2Prefix.map { try textConfigJSON(prefix: $0, openCLIP: true, dropLast: false) }
        var unetJSON = unet
        if let te2, let adm = unetJSON["projection_class_embeddings_input_dim"] as? Int {
            let pooled = te2["projection_dim"] as! Int
            guard (adm - pooled) > 0, (adm - pooled) % 6 == 0 else {
                throw CheckpointError.cannotDerive(file: path, field: "addition_time_embed_dim",
                                                   reason: "label_emb input \(adm) minus pooled width \(pooled) is not 6 equal parts")
            }
            unetJSON["addition_time_embed_dim"] = (adm - pooled) / 6
        }
        let te1 = try textConfigJSON(prefix: layout.textEncoderPrefix, openCLIP: layout.firstEncoderIsOpenCLIP,
                                     dropLast: layout == .sd2)
        return SingleFileConfigs(unet: try decode(unetJSON, as: UNetConfig.self, field: "unet"),
                                 vae: try decode(try vaeConfigJSON(), as: VAEConfig.self, field: "vae"),
                                 textEncoder: try decode(te1, as: CLIPTextConfig.self, field: "text_encoder"),
                                 textEncoder2: try te2.map { try decode($0, as: CLIPTextConfig.self, field: "text_encoder_2") })
    }

    private func shape(_ name: String) throws -> [Int] {
        guard let s = file.shape(of: name) else {
            throw CheckpointError.cannotDerive(file: path, field: name, reason: "the tensor is missing")
        }
        return s
    }

    private func count(_ head: String) -> Int {
        Set(file.names.compactMap { StableDiffusionKeyMap.index(after: head, in: $0)?.0 }).count
    }

    private func heads(_ width: Int, field: String) throws -> Int {
        guard width % 64 == 0 else {
            throw CheckpointError.cannotDerive(file: path, field: field,
                                               reason: "width \(width) is not a multiple of the 64-wide heads of every released model")
        }
        return width / 64
    }

    private func decode<T: Decodable>(_ json: [String: Any], as: T.Type, field: String) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: json)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw CheckpointError.cannotDerive(file: path, field: field, reason: describeDecodingError(error))
        }
    }

    func unetConfigJSON() throws -> [String: Any] {
        let p = CheckpointLayout.unetPrefix
        let convIn = try shape(p + "input_blocks.0.0.weight")
        guard convIn[1] == 4 else {
            throw CheckpointError.unsupportedVariant(
                file: path, reason: "the U-Net takes \(convIn[1]) input channels (an inpainting or other special model); only 4-channel text-to-image U-Nets are supported")
        }
        let layers = unetLayersPerBlock
        let levels = count(p + "input_blocks") / (layers + 1)
        var channels: [Int] = [], cross: [Bool] = [], depth: [Int] = []
        var context: Int?, linear = false
        for b in 0..<levels {
            let first = p + "input_blocks.\(1 + b * (layers + 1))"
            channels.append(try shape(first + ".0.out_layers.3.weight")[0])
            let attn = first + ".1"
            let hasAttention = file.contains(attn + ".proj_in.weight")
            cross.append(hasAttention)
            depth.append(hasAttention ? count(attn + ".transformer_blocks") : 1)
            if hasAttention {
                context = try shape(attn + ".transformer_blocks.0.attn2.to_k.weight")[1]
                linear = try shape(attn + ".proj_in.weight").count == 2
            }
        }
        guard let context else {
            throw CheckpointError.cannotDerive(file: path, field: "cross_attention_dim", reason: "no cross-attention block found")
        }
        let midDepth = count(p + "middle_block.1.transformer_blocks")
        if cross.last == true, let last = depth.last, midDepth != last {
            throw CheckpointError.cannotDerive(file: path, field: "transformer_layers_per_block",
                                               reason: "the mid block has \(midDepth) transformer layers, the last level \(last)")
        }
        var json: [String: Any] = [
            "in_channels": convIn[1], "out_channels": try shape(p + "out.2.weight")[0],
            "block_out_channels": channels, "layers_per_block": layers,
            "down_block_types": cross.map { $0 ? "CrossAttnDownBlock2D" : "DownBlock2D" },
            "up_block_types": cross.reversed().map { $0 ? "CrossAttnUpBlock2D" : "UpBlock2D" },
            "cross_attention_dim": context, "use_linear_projection": linear,
            "transformer_layers_per_block": Set(depth).count == 1 ? depth[0] as Any : depth as Any,
            "norm_num_groups": 32, "norm_eps": 1e-5, "act_fn": "silu", "flip_sin_to_cos": true, "freq_shift": 0,
            "downsample_padding": 1, "mid_block_scale_factor": 1,
        ]
        let temb = try shape(p + "time_embed.0.weight")[0]
        if temb != 4 * channels[0] { json["time_embedding_dim"] = temb }
        switch layout {
        case .sd1:
            json["attention_head_dim"] = 8
            json["sample_size"] = 64
        case .sd2:
            json["attention_head_dim"] = try channels.map { try heads($0, field: "attention_head_dim") }
            json["sample_size"] = 96
            json["upcast_attention"] = true
        case .sdxl:
            json["attention_head_dim"] = try channels.map { try heads($0, field: "attention_head_dim") }
            json["sample_size"] = URL(fileURLWithPath: path).lastPathComponent.lowercased().contains("turbo") ? 64 : 128
            json["addition_embed_type"] = "text_time"
            json["projection_class_embeddings_input_dim"] = try shape(p + "label_emb.0.0.weight")[1]
        }
        return json
    }

    func vaeConfigJSON() throws -> [String: Any] {
        let p = CheckpointLayout.vaePrefix
        let levels = count(p + "encoder.down")
        let channels = try (0..<levels).map { try shape(p + "encoder.down.\($0).block.0.conv2.weight")[0] }
        let sample: Int
        switch layout {
        case .sd1: sample = 512
        case .sd2: sample = 768
        case .sdxl: sample = 1024
        }
        return [
            "in_channels": try shape(p + "encoder.conv_in.weight")[1],
            "out_channels": try shape(p + "decoder.conv_out.weight")[0],
            "down_block_types": Array(repeating: "DownEncoderBlock2D", count: levels),
            "up_block_types": Array(repeating: "UpDecoderBlock2D", count: levels),
            "block_out_channels": channels, "layers_per_block": count(p + "encoder.down.0.block"),
            "latent_channels": try shape(p + "decoder.conv_in.weight")[1], "norm_num_groups": 32, "act_fn": "silu",
            "sample_size": sample, "scaling_factor": layout == .sdxl ? 0.13025 : 0.18215,
            "use_quant_conv": file.contains(p + "quant_conv.weight"),
            "use_post_quant_conv": file.contains(p + "post_quant_conv.weight"),
        ]
    }

    func textConfigJSON(prefix p: String, openCLIP: Bool, dropLast: Bool) throws -> [String: Any] {
        let token: [Int], positions: [Int], fc1: [Int], layers: Int
        var json: [String: Any] = ["bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "layer_norm_eps": 1e-5]
        if openCLIP {
            token = try shape(p + "token_embedding.weight")
            positions = try shape(p + "positional_embedding")
            fc1 = try shape(p + "transformer.resblocks.0.mlp.c_fc.weight")
            layers = count(p + "transformer.resblocks") - (dropLast ? 1 : 0)
            json["hidden_act"] = "gelu"
            if dropLast {
                json["architectures"] = ["CLIPTextModel"]
            } else {
                json["architectures"] = ["CLIPTextModelWithProjection"]
                json["projection_dim"] = try shape(p + "text_projection")[1]
            }
        } else {
            let root = file.contains(p + "text_model.embeddings.token_embedding.weight") ? p + "text_model." : p
            token = try shape(root + "embeddings.token_embedding.weight")
            positions = try shape(root + "embeddings.position_embedding.weight")
            fc1 = try shape(root + "encoder.layers.0.mlp.fc1.weight")
            layers = count(root + "encoder.layers")
            json["hidden_act"] = "quick_gelu"
            json["architectures"] = ["CLIPTextModel"]
        }
        json["vocab_size"] = token[0]
        json["hidden_size"] = token[1]
        json["max_position_embeddings"] = positions[0]
        json["intermediate_size"] = fc1[0]
        json["num_hidden_layers"] = layers
        json["num_attention_heads"] = try heads(token[1], field: "num_attention_heads")
        if json["projection_dim"] == nil { json["projection_dim"] = token[1] }
        return json
    }
}
