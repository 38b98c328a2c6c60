/// Diffusers names for the tensors of an original-layout Stable Diffusion checkpoint: the inverse view of what
/// `diffusers.loaders.single_file_utils` (0.29.2) does when it converts such a file
/// (`convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`,
/// `convert_open_clip_checkpoint`), expressed as recipes so nothing is converted before it is loaded.
///
/// Each function takes the file's names under one component's prefix (prefix removed) and returns
/// diffusers name -> recipe on the full stored name.
public enum StableDiffusionKeyMap {
    /// The numeric path component after `head` in `name` ("input_blocks.4.1.proj_in.weight", "input_blocks"
    /// -> 4) and the rest after it.
    static func index(after head: String, in name: String) -> (Int, Substring)? {
        guard name.hasPrefix(head + ".") else { return nil }
        let rest = name.dropFirst(head.count + 1)
        guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) else { return nil }
        return (i, rest[rest.index(after: dot)...])
    }

    /// ldm ResnetBlock (U-Net) sub-names -> diffusers `ResnetBlock2D` names.
    static func unetResnetName(_ s: Substring) -> String {
        var n = String(s)
        for (old, new) in [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"),
                           ("out_layers.3", "conv2"), ("emb_layers.1", "time_emb_proj"),
                           ("skip_connection", "conv_shortcut")] where n.hasPrefix(old) {
            n = new + n.dropFirst(old.count)
        }
        return n
    }

    /// The U-Net: `names` are relative to `model.diffusion_model.`.
    ///
    /// `layers_per_block` is read off the tensors: the first `input_blocks.<i>.0.op` (a downsampler) sits
    /// at i = layers + 1.
    public static func unet(_ names: [String], prefix: String) -> (recipes: [String: TensorRecipe], layersPerBlock: Int) {
        let inputIndices = Set(names.compactMap { index(after: "input_blocks", in: $0)?.0 })
        let firstOp = inputIndices.sorted().first { names.contains("input_blocks.\($0).0.op.weight") }
        let perLevel = (firstOp ?? ((inputIndices.max() ?? 0) + 1))  // layers + 1 (the downsampler's slot)
        let layers = max(perLevel - 1, 1)
        var map: [String: TensorRecipe] = [:]
        func put(_ diffusers: String, _ stored: String) { map[diffusers] = TensorRecipe(prefix + stored) }

        let fixed = ["time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
                     "label_emb.0.0": "add_embedding.linear_1", "label_emb.0.2": "add_embedding.linear_2",
                     "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"]
        for name in names {
            if let dot = name.lastIndex(of: "."), let target = fixed[String(name[..<dot])] {
                put(target + name[dot...], name)
            } else if let (i, rest) = index(after: "input_blocks", in: name), i > 0 {
                let block = (i - 1) / (layers + 1), layer = (i - 1) % (layers + 1)
                if rest.hasPrefix("0.op.") {
                    put("down_blocks.\(block).downsamplers.0.conv." + rest.dropFirst("0.op.".count), name)
                } else if rest.hasPrefix("0.") {
                    put("down_blocks.\(block).resnets.\(layer)." + unetResnetName(rest.dropFirst(2)), name)
                } else if rest.hasPrefix("1.") {
                    put("down_blocks.\(block).attentions.\(layer)." + rest.dropFirst(2), name)
                }
            } else if let (i, rest) = index(after: "middle_block", in: name) {
                if i % 2 == 0 {
                    put("mid_block.resnets.\(i / 2)." + unetResnetName(rest), name)
                } else {
                    put("mid_block.attentions.\(i / 2)." + rest, name)
                }
            } else if let (i, rest) = index(after: "output_blocks", in: name) {
                let block = i / (layers + 1), layer = i % (layers + 1)
                if rest.hasPrefix("0.") {
                    put("up_blocks.\(block).resnets.\(layer)." + unetResnetName(rest.dropFirst(2)), name)
                } else if rest.hasPrefix("1.conv.") || rest.hasPrefix("2.conv.") {
                    put("up_blocks.\(block).upsamplers.0.conv." + rest.dropFirst("1.conv.".count), name)
                } else if rest.hasPrefix("1.") {
                    put("up_blocks.\(block).attentions.\(layer)." + rest.dropFirst(2), name)
                }
            }
        }
        return (map, layers)
    }

    /// The VAE: `names` are relative to `first_stage_model.`. The mid-block attention's 1x1 convolutions
    /// (`q`, `k`, `v`, `proj_out`) become linear weights.
    public static func vae(_ names: [String], prefix: String) -> [String: TensorRecipe] {
        let upLevels = Set(names.compactMap { index(after: "decoder.up", in: $0)?.0 }).count
        var map: [String: TensorRecipe] = [:]
        func put(_ diffusers: String, _ stored: String, _ op: TensorRecipe.Operation = .copy) {
            map[diffusers] = TensorRecipe(prefix + stored, op)
        }
        func resnet(_ s: Substring) -> String { s.hasPrefix("nin_shortcut") ? "conv_shortcut" + s.dropFirst(12) : String(s) }
        for name in names {
            for part in ["encoder", "decoder"] where name.hasPrefix(part + ".") {
                let rest = name.dropFirst(part.count + 1)
                if rest.hasPrefix("norm_out.") {
                    put("\(part).conv_norm_out." + rest.dropFirst(9), name)
                } else if rest.hasPrefix("conv_in.") || rest.hasPrefix("conv_out.") {
                    put(name, name)
                } else if let (i, sub) = index(after: "down", in: String(rest)) {
                    if let (j, r) = index(after: "block", in: String(sub)) {
                        put("\(part).down_blocks.\(i).resnets.\(j)." + resnet(r), name)
                    } else if sub.hasPrefix("downsample.conv.") {
                        put("\(part).down_blocks.\(i).downsamplers.0.conv." + sub.dropFirst(16), name)
                    }
                } else if let (b, sub) = index(after: "up", in: String(rest)) {
                    let i = upLevels - 1 - b
                    if let (j, r) = index(after: "block", in: String(sub)) {
                        put("\(part).up_blocks.\(i).resnets.\(j)." + resnet(r), name)
                    } else if sub.hasPrefix("upsample.conv.") {
                        put("\(part).up_blocks.\(i).upsamplers.0.conv." + sub.dropFirst(14), name)
                    }
                } else if rest.hasPrefix("mid.block_1.") || rest.hasPrefix("mid.block_2.") {
                    let k = rest.hasPrefix("mid.block_1.") ? 0 : 1
                    put("\(part).mid_block.resnets.\(k)." + resnet(rest.dropFirst(12)), name)
                } else if rest.hasPrefix("mid.attn_1.") {
                    let sub = rest.dropFirst(11)
                    let renames = ["norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"]
                    if let dot = sub.lastIndex(of: "."), let target = renames[String(sub[..<dot])] {
                        let isWeight = sub[dot...] == ".weight" && target != "group_norm"
                        put("\(part).mid_block.attentions.0.\(target)" + sub[dot...], name,
                            isWeight ? .squeezeTrailingOnes : .copy)
                    }
                }
            }
            if name.hasPrefix("quant_conv.") || name.hasPrefix("post_quant_conv.") { put(name, name) }
        }
        return map
    }

    /// A transformers CLIP text model stored under a prefix (SD 1.x, SDXL's first encoder). Very old files
    /// lack the `text_model.` level; it is added.
    public static func clip(_ names: [String], prefix: String) -> [String: TensorRecipe] {
        var map: [String: TensorRecipe] = [:]
        for name in names {
            let exposed = name.hasPrefix("text_model.") || name.hasPrefix("text_projection.") ? name : "text_model." + name
            map[exposed] = TensorRecipe(prefix + name)
        }
        return map
    }

    /// An OpenCLIP text tower (SD 2.x, SDXL's second encoder) as transformers' `CLIPTextModel(WithProjection)`:
    /// fused `in_proj` weights split into q/k/v, `text_projection` transposed.
    public static func openCLIP(_ names: [String], prefix: String) -> [String: TensorRecipe] {
        var map: [String: TensorRecipe] = [:]
        func put(_ exposed: String, _ stored: String, _ op: TensorRecipe.Operation = .copy) {
            map[exposed] = TensorRecipe(prefix + stored, op)
        }
        let layerRenames = [("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("mlp.c_fc.", "mlp.fc1."),
                            ("mlp.c_proj.", "mlp.fc2."), ("attn.out_proj.", "self_attn.out_proj.")]
        for name in names {
            switch name {
            case "token_embedding.weight": put("text_model.embeddings.token_embedding.weight", name)
            case "positional_embedding": put("text_model.embeddings.position_embedding.weight", name)
            case "ln_final.weight": put("text_model.final_layer_norm.weight", name)
            case "ln_final.bias": put("text_model.final_layer_norm.bias", name)
            case "text_projection": put("text_projection.weight", name, .transpose)
            default:
                guard let (i, rest) = index(after: "transformer.resblocks", in: name) else { continue }
                let layer = "text_model.encoder.layers.\(i)."
                if rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias" {
                    let kind = rest.hasSuffix("weight") ? "weight" : "bias"
                    for (k, p) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                        put(layer + "self_attn.\(p).\(kind)", name, .rowBlock(index: k, count: 3))
                    }
                } else if let (old, new) = layerRenames.first(where: { rest.hasPrefix($0.0) }) {
                    put(layer + new + rest.dropFirst(old.count), name)
                }
            }
        }
        return map
    }
}
