#!/usr/bin/env python3
"""Full-size SD U-Net (real config, seeded random weights) + one forward fixture + PyTorch CPU timings.

Opt-in, writes outside the repo (the weights are ~3.4 GB for SD 1.5):

    nice -n 10 python tools/reference/make_fullsize.py --family sd15 --out /work/fullsize/sd15

Writes
  <out>/unet/{config.json,diffusion_pytorch_model.safetensors}   diffusers folder, F32
  <out>/unet_forward.safetensors   sample [1,4,64,64], encoder_hidden_states [1,77,C], out [1,4,64,64]
  <out>/fullsize.json              config, timestep, seed, param count, torch threads, forward times (s)
"""
import argparse
import json
import os
import time

import torch
from safetensors.torch import save_file

import diffusers
from diffusers import UNet2DConditionModel

COMMON = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1, act_fn="silu", norm_num_groups=32,
    norm_eps=1e-5)

# The real unet/config.json values of runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-2-1.
CONFIGS = {
    "sd15": dict(COMMON, attention_head_dim=8, cross_attention_dim=768),
    "sd21": dict(COMMON, sample_size=96, attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024,
                 use_linear_projection=True, upcast_attention=True),
}


def timed(unet, sample, t, ehs):
    """Wall and process CPU seconds (CPU time stays meaningful when other jobs share the cores)."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = unet(sample, t, encoder_hidden_states=ehs).sample
    return out, {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="sd15", choices=sorted(CONFIGS))
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=860)
    p.add_argument("--timestep", type=int, default=500)
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--reuse", action="store_true", help="load <out>/unet written by an earlier run (same seed)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)

    unet_dir = os.path.join(args.out, "unet")
    if args.reuse:
        unet = UNet2DConditionModel.from_pretrained(unet_dir).eval()
        for k, v in CONFIGS[args.family].items():
            assert unet.config[k] == (list(v) if isinstance(v, tuple) else v), (k, unet.config[k], v)
    else:
        torch.manual_seed(args.seed)
        unet = UNet2DConditionModel(**CONFIGS[args.family]).eval()
        unet.save_pretrained(unet_dir, safe_serialization=True)
    params = sum(p.numel() for p in unet.parameters())
    print(f"{args.family}: {params / 1e6:.1f}M parameters in {unet_dir}", flush=True)

    width = unet.config.cross_attention_dim
    g = torch.Generator().manual_seed(args.seed + 1)
    sample = torch.randn((1, 4, 64, 64), generator=g)
    ehs = torch.randn((1, 77, width), generator=g)
    t = torch.tensor(args.timestep)
    out, t_fixture = timed(unet, sample, t, ehs)
    print(f"fixture forward b1 64x64: {t_fixture}; out std {out.std().item():.4g} "
          f"maxabs {out.abs().max().item():.4g}", flush=True)
    assert torch.isfinite(out).all()
    save_file({"sample": sample, "encoder_hidden_states": ehs, "out": out.contiguous()},
              os.path.join(args.out, "unet_forward.safetensors"))

    timings = {"b1_64x64_first_call": t_fixture}
    if not args.no_timing:
        for b, s in ((2, 64), (2, 128)):
            x = torch.randn((b, 4, s, s), generator=g)
            e = torch.randn((b, 77, width), generator=g)
            _, dt = timed(unet, x, t, e)
            timings[f"b{b}_{s}x{s}"] = dt
            print(f"forward batch {b} latent {s}x{s}: wall {dt['wall']:.1f} s, cpu {dt['cpu']:.1f} s", flush=True)

    info = {"family": args.family, "config": dict(unet.config), "parameters": params, "seed": args.seed,
            "timestep": args.timestep, "torch": torch.__version__, "diffusers": diffusers.__version__,
            "torch_threads": torch.get_num_threads(), "attention_processor": type(
                unet.attn_processors[next(iter(unet.attn_processors))]).__name__,
            "load_average_at_end": os.getloadavg(), "forward_seconds": timings}
    with open(os.path.join(args.out, "fullsize.json"), "w") as f:
        json.dump(info, f, indent=1, default=str)
    print(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main()
