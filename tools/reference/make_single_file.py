#!/usr/bin/env python3
"""Single-file (original Stable Diffusion layout) exports of the tiny pipelines, checked against diffusers' own
single-file loader, plus the real-size layouts (names and shapes only) with the configs diffusers derives for them.

Run in the pinned venv after make_fixtures.py and make_sdxl_fixtures.py:
    python tools/reference/make_single_file.py [--keep DIR]

The converter is the inverse of diffusers 0.29.2's `diffusers/loaders/single_file_utils.py` (`convert_ldm_unet_checkpoint`,
`convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`, `convert_open_clip_checkpoint`): the diffusers folder's
state dicts are renamed into the original layout

  SD 1.x  model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.text_model.*
  SD 2.x  ... cond_stage_model.model.* (OpenCLIP: fused attn.in_proj_*, transposed text_projection, and one more
          resblock than diffusers keeps: SD 2 conditions on the penultimate block, the last one is unused)
  SDXL    ... conditioner.embedders.0.transformer.text_model.*, conditioner.embedders.1.model.* (OpenCLIP bigG)

and verified twice: diffusers' converters applied to the exported file give back every tensor of the folder exactly,
and `from_single_file(file, config=<the folder>, local_files_only=True)` builds a pipeline whose state dicts equal the
folder pipeline's.

Writes
  Tests/Fixtures/single-file/sdxl-tiny.safetensors      the SDXL export, every floating tensor F16 (fp16-exact weights)
  Tests/Fixtures/single-file/<model>.layout.json        for sd15-tiny and sd21-tiny: every tensor of the
      export in file order: name, dtype, shape, crc32 of its float32 little-endian bytes, and where it comes from
      ({"component", "tensors": [diffusers names], "op": copy | unsqueeze | fuse_qkv | transpose | extra | buffer}),
      so a test can rebuild the SD 1.5 / 2.1 exports (not committed: their 49408-token embeddings make them 8 MB each)
      from the committed folders and check them tensor by tensor against what this script wrote.
  Tests/Fixtures/single-file/sd21-tiny.extras.safetensors  the SD 2.1 export's tensors diffusers does not use
      (the extra OpenCLIP block, text_projection), which the folder cannot supply.
  Tests/Fixtures/single-file/layouts.json   real-size SD 1.5 / SD 2.1 / SDXL: the original layout's tensor names,
      shapes and dtypes (a 2 GB / 5 GB / 6.9 GB fp16 file, built on the meta device, no data), the diffusers name
      and shape each maps to, and the U-Net / VAE configs diffusers derives from the original .yaml config and the
      checkpoint (`create_unet_diffusers_config_from_ldm`, `create_vae_diffusers_config_from_ldm`), plus the released
      text encoder configs.
"""
import argparse
import json
import os
import shutil
import tempfile
import zlib

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import diffusers
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
OUT = os.path.join(FIXTURES, "single-file")

UNET, VAE = "model.diffusion_model.", "first_stage_model."
FAMILIES = {  # model folder -> (layout, text encoder prefixes)
    "sd15-tiny": ("sd1", {"text_encoder": ("clip", "cond_stage_model.transformer.")}),
    "sd21-tiny": ("sd2", {"text_encoder": ("openclip", "cond_stage_model.model.")}),
    "sdxl-tiny": ("sdxl", {"text_encoder": ("clip", "conditioner.embedders.0.transformer."),
                           "text_encoder_2": ("openclip", "conditioner.embedders.1.model.")}),
}


# ------------------------------------------------------------------------------------ diffusers -> original

def unet_key(key, layers):
    """The original name of a diffusers U-Net key (inverse of convert_ldm_unet_checkpoint)."""
    fixed = {v: k for k, v in {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
                               "label_emb.0.0": "add_embedding.linear_1", "label_emb.0.2": "add_embedding.linear_2",
                               "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"}.items()}
    head, _, leaf = key.rpartition(".")
    if head in fixed:
        return f"{fixed[head]}.{leaf}"
    resnet = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
              ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]

    def res(rest):
        for new, old in resnet:
            if rest.startswith(new + "."):
                return old + rest[len(new):]
        raise KeyError(key)

    p = key.split(".")
    if p[0] == "down_blocks":
        b = int(p[1])
        if p[2] == "downsamplers":
            return f"input_blocks.{(b + 1) * (layers + 1)}.0.op." + ".".join(p[5:])
        i = 1 + b * (layers + 1) + int(p[3])
        if p[2] == "resnets":
            return f"input_blocks.{i}.0." + res(".".join(p[4:]))
        return f"input_blocks.{i}.1." + ".".join(p[4:])
    if p[0] == "mid_block":
        if p[1] == "resnets":
            return f"middle_block.{2 * int(p[2])}." + res(".".join(p[3:]))
        return "middle_block.1." + ".".join(p[3:])
    if p[0] == "up_blocks":
        b = int(p[1])
        if p[2] == "upsamplers":
            return None  # placed by the caller (slot 1 or 2 of the block's last output block)
        i = b * (layers + 1) + int(p[3])
        if p[2] == "resnets":
            return f"output_blocks.{i}.0." + res(".".join(p[4:]))
        return f"output_blocks.{i}.1." + ".".join(p[4:])
    raise KeyError(key)


def export_unet(sd, config):
    layers = config["layers_per_block"]
    out = {}
    for k, v in sd.items():
        name = unet_key(k, layers)
        if name is None:  # up_blocks.<b>.upsamplers.0.conv.*: after the attention (slot 2) or the resnet (slot 1)
            b = int(k.split(".")[1])
            slot = 2 if config["up_block_types"][b] == "CrossAttnUpBlock2D" else 1
            name = f"output_blocks.{b * (layers + 1) + layers}.{slot}.conv." + k.rsplit(".", 1)[1]
        out[UNET + name] = (v, k, "copy")
    return out


def export_vae(sd, config):
    n = len(config["up_block_types"])
    out = {}
    for k, v in sd.items():
        p = k.split(".")
        part, op = p[0], "copy"
        rest = ".".join(p[1:])
        if rest.startswith("conv_norm_out."):
            name = f"{part}.norm_out." + p[-1]
        elif p[1] in ("down_blocks", "up_blocks"):
            i = int(p[2]) if p[1] == "down_blocks" else n - 1 - int(p[2])
            kind = "down" if p[1] == "down_blocks" else "up"
            if p[3] == "resnets":
                name = f"{part}.{kind}.{i}.block.{p[4]}." + ".".join(p[5:]).replace("conv_shortcut", "nin_shortcut")
            else:
                name = f"{part}.{kind}.{i}.{'downsample' if kind == 'down' else 'upsample'}.conv." + p[-1]
        elif p[1] == "mid_block" and p[2] == "resnets":
            name = f"{part}.mid.block_{int(p[3]) + 1}." + ".".join(p[4:]).replace("conv_shortcut", "nin_shortcut")
        elif p[1] == "mid_block":
            sub = ".".join(p[4:])
            ren = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
            mod, leaf = sub.rsplit(".", 1)
            name = f"{part}.mid.attn_1.{ren[mod]}.{leaf}"
            if leaf == "weight" and mod != "group_norm":  # linear -> the original 1x1 convolution
                v, op = v[:, :, None, None], "unsqueeze"
        else:
            name = k
        out[VAE + name] = (v, k, op)
    return out


def export_clip(sd, prefix):
    return {prefix + k: (v, k, "copy") for k, v in sd.items()}


def export_open_clip(sd, prefix, extra_layers=0, projection=None):
    ren = [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
           ("self_attn.out_proj", "attn.out_proj")]
    fixed = {"text_model.embeddings.token_embedding.weight": "token_embedding.weight",
             "text_model.embeddings.position_embedding.weight": "positional_embedding",
             "text_model.final_layer_norm.weight": "ln_final.weight", "text_model.final_layer_norm.bias": "ln_final.bias"}
    out = {}
    for k, v in sd.items():
        if k in fixed:
            out[prefix + fixed[k]] = (v, k, "copy")
        elif k == "text_projection.weight":
            out[prefix + "text_projection"] = (v.T.contiguous(), k, "transpose")
        elif ".self_attn.q_proj." in k:
            base, leaf = k.split(".self_attn.q_proj.")
            i = int(base.split(".")[-1])
            parts = [sd[f"{base}.self_attn.{x}_proj.{leaf}"] for x in "qkv"]
            names = [f"{base}.self_attn.{x}_proj.{leaf}" for x in "qkv"]
            out[prefix + f"transformer.resblocks.{i}.attn.in_proj_{leaf}"] = (torch.cat(parts, 0), names, "fuse_qkv")
        elif ".self_attn.k_proj." in k or ".self_attn.v_proj." in k:
            continue
        else:
            i, rest = k.split("text_model.encoder.layers.")[1].split(".", 1)
            for new, old in ren:
                if rest.startswith(new + "."):
                    rest = old + rest[len(new):]
                    break
            else:
                raise KeyError(k)
            out[prefix + f"transformer.resblocks.{i}.{rest}"] = (v, k, "copy")
    return out


def extras_sd2(sd, prefix, layers, width, seed):
    """What a real SD 2 file has and diffusers drops: the last OpenCLIP block and text_projection."""
    g = torch.Generator().manual_seed(seed)
    template = {k: v for k, v in export_open_clip(sd, prefix).items() if f"transformer.resblocks.{layers - 1}." in k}
    out = {}
    for k, (v, _, _) in template.items():
        t = (torch.randn(v.shape, generator=g) * 0.02).half().float()
        out[k.replace(f"resblocks.{layers - 1}.", f"resblocks.{layers}.")] = (t, None, "extra")
    out[prefix + "text_projection"] = ((torch.randn((width, width), generator=g) * 0.02).half().float(), None, "extra")
    return out


def export(folder, family):
    layout, encoders = FAMILIES[family]
    cfg = lambda comp: json.load(open(os.path.join(folder, comp, "config.json")))
    sd = lambda comp, f: load_file(os.path.join(folder, comp, f))
    out = {}
    out.update(export_unet(sd("unet", "diffusion_pytorch_model.safetensors"), cfg("unet")))
    out.update(export_vae(sd("vae", "diffusion_pytorch_model.safetensors"), cfg("vae")))
    for comp, (kind, prefix) in encoders.items():
        te = sd(comp, "model.safetensors")
        if kind == "clip":
            out.update(export_clip(te, prefix))
            # A buffer every released SD 1.x / SDXL file carries (int64; transformers no longer saves it).
            out[prefix + "text_model.embeddings.position_ids"] = (torch.arange(77)[None], None, "buffer")
        else:
            out.update(export_open_clip(te, prefix))
            if layout == "sd2":
                c = cfg(comp)
                out.update(extras_sd2(te, prefix, c["num_hidden_layers"], c["hidden_size"], 2199))
    return {k: out[k] for k in sorted(out)}


# ----------------------------------------------------------------------------------------------- verification

def verify_with_converters(folder, family, tensors):
    """diffusers' own converters on the exported dict give back every folder tensor exactly."""
    layout, encoders = FAMILIES[family]
    ckpt = {k: v[0] for k, v in tensors.items()}
    cfg = lambda comp: json.load(open(os.path.join(folder, comp, "config.json")))
    checks = [("unet", "diffusion_pytorch_model.safetensors", sfu.convert_ldm_unet_checkpoint(ckpt, cfg("unet"))),
              ("vae", "diffusion_pytorch_model.safetensors", sfu.convert_ldm_vae_checkpoint(ckpt, cfg("vae")))]
    for comp, (kind, prefix) in encoders.items():
        if kind == "clip":
            conv = sfu.convert_ldm_clip_checkpoint({k: v for k, v in ckpt.items() if k.startswith(prefix)})
        else:
            c = CLIPTextConfig.from_pretrained(os.path.join(folder, comp))
            model = (CLIPTextModelWithProjection if comp == "text_encoder_2" else CLIPTextModel)(c)
            conv = sfu.convert_open_clip_checkpoint(model, ckpt, prefix=prefix)
        checks.append((comp, "model.safetensors", conv))
    for comp, f, conv in checks:
        ref = load_file(os.path.join(folder, comp, f))
        missing = sorted(set(ref) - set(conv))
        assert not missing, (family, comp, missing[:5])
        for k in ref:
            assert torch.equal(conv[k].float(), ref[k].float()), (family, comp, k)
        unused = sorted(set(conv) - set(ref))
        allowed = all(("position_ids" in k) or (layout == "sd2" and k.startswith(
            f"text_model.encoder.layers.{json.load(open(os.path.join(folder, comp, 'config.json')))['num_hidden_layers']}."))
            for k in unused)
        assert allowed, (family, comp, unused[:5])
        print(f"    {family} {comp}: diffusers' converter gives back all {len(ref)} tensors exactly"
              + (f" ({len(unused)} unused: {unused[0]} ...)" if unused else ""))


def verify_from_single_file(folder, family, path):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    cls = StableDiffusionXLPipeline if family == "sdxl-tiny" else StableDiffusionPipeline
    extra = {"add_watermarker": False} if family == "sdxl-tiny" else {"safety_checker": None,
                                                                        "requires_safety_checker": False}
    single = cls.from_single_file(path, config=folder, local_files_only=True, **extra)
    ref = cls.from_pretrained(folder, **extra)
    comps = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if family == "sdxl-tiny" else [])
    for comp in comps:
        a, b = getattr(single, comp).state_dict(), getattr(ref, comp).state_dict()
        assert set(a) == set(b), (family, comp, sorted(set(a) ^ set(b))[:5])
        for k in a:
            assert torch.equal(a[k].float(), b[k].float()), (family, comp, k)
    print(f"    {family}: from_single_file(config=folder) == from_pretrained(folder) for {', '.join(comps)}")


def crc32_f32(t):
    return zlib.crc32(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def manifest(tensors, family, dtypes):
    layout, _ = FAMILIES[family]
    comp_of = lambda name: ("unet" if name.startswith(UNET) else "vae" if name.startswith(VAE) else
                            "text_encoder_2" if name.startswith("conditioner.embedders.1.") else "text_encoder")
    entries = []
    for name, (v, src, op) in tensors.items():
        e = {"name": name, "dtype": dtypes[name], "shape": list(v.shape)}
        if op != "buffer":
            e["crc32"] = crc32_f32(v)
        e["from"] = {"component": comp_of(name), "tensors": src if isinstance(src, list) else ([src] if src else []),
                     "op": op}
        entries.append(e)
    return {"family": family, "layout": layout, "tensors": entries}


# ------------------------------------------------------------------------------------------- real-size layouts

# The released models' configs, from their original .yaml (the fields diffusers reads) and hub config.json files.
ORIGINAL_CONFIGS = {  # CompVis/stable-diffusion v1-inference.yaml, Stability-AI/stablediffusion v2-inference-v.yaml,
    # Stability-AI/generative-models sd_xl_base.yaml
    "sd15": {"model": {"params": {"scale_factor": 0.18215, "unet_config": {"params": {
        "in_channels": 4, "out_channels": 4, "model_channels": 320, "attention_resolutions": [4, 2, 1],
        "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_heads": 8, "use_spatial_transformer": True,
        "transformer_depth": 1, "context_dim": 768}},
        "first_stage_config": {"params": {"ddconfig": {"z_channels": 4, "resolution": 512, "in_channels": 3,
                                                       "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4],
                                                       "num_res_blocks": 2}}}}}},
    "sd21": {"model": {"params": {"scale_factor": 0.18215, "unet_config": {"params": {
        "in_channels": 4, "out_channels": 4, "model_channels": 320, "attention_resolutions": [4, 2, 1],
        "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_head_channels": 64, "use_spatial_transformer": True,
        "use_linear_in_transformer": True, "transformer_depth": 1, "context_dim": 1024}},
        "first_stage_config": {"params": {"ddconfig": {"z_channels": 4, "resolution": 256, "in_channels": 3,
                                                       "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4],
                                                       "num_res_blocks": 2}}}}}},
    "sdxl": {"model": {"params": {"scale_factor": 0.13025, "network_config": {"params": {
        "adm_in_channels": 2816, "num_classes": "sequential", "in_channels": 4, "out_channels": 4,
        "model_channels": 320, "attention_resolutions": [4, 2], "num_res_blocks": 2, "channel_mult": [1, 2, 4],
        "num_head_channels": 64, "use_spatial_transformer": True, "use_linear_in_transformer": True,
        "transformer_depth": [1, 2, 10], "context_dim": 2048}},
        "first_stage_config": {"params": {"ddconfig": {"z_channels": 4, "resolution": 256, "in_channels": 3,
                                                       "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4],
                                                       "num_res_blocks": 2}}}}}},
}
# openai/clip-vit-large-patch14 (SD 1.x, SDXL text_encoder), stabilityai/stable-diffusion-2-1 text_encoder (OpenCLIP
# ViT-H, 23 of 24 blocks), stabilityai/stable-diffusion-xl-base-1.0 text_encoder_2 (OpenCLIP bigG).
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              hidden_act="quick_gelu", projection_dim=768, vocab_size=49408, max_position_embeddings=77)
OPEN_CLIP_H = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                   hidden_act="gelu", projection_dim=512, vocab_size=49408, max_position_embeddings=77)
OPEN_CLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                      hidden_act="gelu", projection_dim=1280, vocab_size=49408, max_position_embeddings=77)


def real_layout(name):
    orig = ORIGINAL_CONFIGS[name]
    unet_params = orig["model"]["params"].get("unet_config", orig["model"]["params"].get("network_config"))["params"]
    mc, mult = unet_params["model_channels"], unet_params["channel_mult"]
    channels = [mc * m for m in mult]
    if name == "sd15":
        unet_cfg = dict(block_out_channels=channels, cross_attention_dim=768, attention_head_dim=8)
        encoders = {"text_encoder": ("clip", "cond_stage_model.transformer.", CLIP_L, CLIPTextModel)}
    elif name == "sd21":
        unet_cfg = dict(block_out_channels=channels, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
                        use_linear_projection=True)
        encoders = {"text_encoder": ("openclip", "cond_stage_model.model.", OPEN_CLIP_H, CLIPTextModel)}
    else:
        unet_cfg = dict(block_out_channels=channels, cross_attention_dim=2048, attention_head_dim=[5, 10, 20],
                        use_linear_projection=True, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D",
                                                                      "CrossAttnDownBlock2D"),
                        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                        transformer_layers_per_block=[1, 2, 10], addition_embed_type="text_time",
                        addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
        encoders = {"text_encoder": ("clip", "conditioner.embedders.0.transformer.", CLIP_L, CLIPTextModel),
                    "text_encoder_2": ("openclip", "conditioner.embedders.1.model.", OPEN_CLIP_BIGG,
                                       CLIPTextModelWithProjection)}
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_cfg)
        vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4)
        tes = {comp: cls(CLIPTextConfig(**cfg)) for comp, (_, _, cfg, cls) in encoders.items()}
    diffusers_shapes = {}
    tensors = {}
    tensors.update(export_unet(unet.state_dict(), dict(unet.config)))
    tensors.update(export_vae(vae.state_dict(), dict(vae.config)))
    for comp, sd in [("unet", unet.state_dict()), ("vae", vae.state_dict())]:
        diffusers_shapes[comp] = {k: list(v.shape) for k, v in sd.items()}
    for comp, (kind, prefix, cfg, _) in encoders.items():
        sd = tes[comp].state_dict()
        diffusers_shapes[comp] = {k: list(v.shape) for k, v in sd.items()}
        if kind == "clip":
            tensors.update(export_clip(sd, prefix))
            tensors[prefix + "text_model.embeddings.position_ids"] = (torch.zeros((1, 77), dtype=torch.int64,
                                                                                  device="meta"), None, "buffer")
        else:
            tensors.update(export_open_clip(sd, prefix))
            if name == "sd21":
                tensors.update({k: (torch.empty(v[0].shape, device="meta"), None, "extra") for k, v in
                                extras_meta(sd, prefix, cfg["num_hidden_layers"], cfg["hidden_size"]).items()})
    if name != "sdxl":
        # ldm's LatentDiffusion buffers, at the top level of every released SD 1.x / 2.x file.
        for buf in ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "log_one_minus_alphas_cumprod"):
            tensors[buf] = (torch.empty((1000,), device="meta"), None, "buffer")
    ckpt = {k: v[0] for k, v in tensors.items()}
    expected_unet = sfu.create_unet_diffusers_config_from_ldm(orig, ckpt)
    expected_vae = sfu.create_vae_diffusers_config_from_ldm(orig, ckpt)
    nbytes = sum(v[0].numel() * (8 if v[0].dtype == torch.int64 else 4 if "." not in k else 2)
                 for k, v in tensors.items())
    return {
        "tensors": [{"name": k, "dtype": "I64" if v[0].dtype == torch.int64 else "F32" if "." not in k else "F16",
                     "shape": list(v[0].shape)}
                    for k, v in sorted(tensors.items())],
        "bytes": nbytes,
        "diffusers_shapes": diffusers_shapes,
        "expected_configs": {"unet": expected_unet, "vae": expected_vae,
                             **{comp: cfg for comp, (_, _, cfg, _) in encoders.items()}},
        "model_type": sfu.infer_diffusers_model_type(ckpt),
    }


def extras_meta(sd, prefix, layers, width):
    template = {k: v for k, v in export_open_clip(sd, prefix).items() if f"transformer.resblocks.{layers - 1}." in k}
    out = {k.replace(f"resblocks.{layers - 1}.", f"resblocks.{layers}."): v for k, v in template.items()}
    out[prefix + "text_projection"] = (torch.empty((width, 1024), device="meta"), None, "extra")
    return out


# ------------------------------------------------------------------------------------------------------ main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep", help="also keep the SD 1.5 / 2.1 exports (F32, not committed) in this folder")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    work = args.keep or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}")
    for family in FAMILIES:
        folder = os.path.join(FIXTURES, "models", family)
        print(f"== {family}")
        tensors = export(folder, family)
        verify_with_converters(folder, family, tensors)
        # The committed SDXL export stores every floating tensor F16 (the weights are fp16-exact); the others are
        # rebuilt by the tests from the folders and the manifest, in F32.
        half = family == "sdxl-tiny"
        data, dtypes = {}, {}
        for k, (v, _, _) in tensors.items():
            if v.dtype.is_floating_point:
                assert torch.equal(v.half().float(), v.float()), k
                v = v.half() if half else v.float()
            data[k] = v.contiguous()
            dtypes[k] = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64"}[v.dtype]
        path = os.path.join(OUT if half else work, f"{family}.safetensors")
        save_file(data, path, metadata={"format": "pt"})
        with safe_open(path, "pt") as f:  # file order, as the manifest lists it
            order = list(f.keys())
        if not half:
            m = manifest({k: tensors[k] for k in order}, family, dtypes)
            with open(os.path.join(OUT, f"{family}.layout.json"), "w") as f:
                json.dump(m, f, separators=(",", ":"))
        if family == "sd21-tiny":
            save_file({k: v[0].float().contiguous() for k, v in tensors.items() if v[2] == "extra"},
                      os.path.join(OUT, "sd21-tiny.extras.safetensors"))
        verify_from_single_file(folder, family, path)
        print(f"    wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB, {len(tensors)} tensors)")

    layouts = {}
    for name in ORIGINAL_CONFIGS:
        layouts[name] = real_layout(name)
        print(f"== real {name}: {len(layouts[name]['tensors'])} tensors, {layouts[name]['bytes'] / 1e9:.2f} GB as fp16, "
              f"diffusers model type {layouts[name]['model_type']}")
    with open(os.path.join(OUT, "layouts.json"), "w") as f:
        json.dump(layouts, f, separators=(",", ":"))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
