#!/usr/bin/env python3
"""A random-weight SD 1.5-layout pipeline of reduced width, for sharding and memory runs far above 1024 px.

The demo model (`models/shapes`) has a 4x VAE, so a 4096 px image is a 1024x1024 latent: far too much
attention for 2 cores. This model keeps SD 1.5's layout (four U-Net levels, cross-attention in the top three,
an 8x VAE with four levels and a mid-block attention) at a fraction of its width, with seeded random
weights. Its images are noise, not pictures; it exists so that a 4096x4096 HiDiffusion generation (a 512x512
latent) runs in minutes and its memory is dominated, as a real model's is at that size, by the activations.
The text encoder, tokenizer and scheduler are copied from the demo model.

    /work/venv/bin/python tools/reference/make_wide_model.py --out /tmp/wide   # ~10 s, 3 MB

Writes a diffusers pipeline folder <out>/{model_index.json,unet,vae,text_encoder,tokenizer,scheduler}.
"""
import argparse
import os
import shutil

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "models", "shapes")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=4096)
    p.add_argument("--unet-channels", default="16,32,32,32")
    p.add_argument("--vae-channels", default="8,16,16,16")
    args = p.parse_args()
    unet_channels = tuple(int(c) for c in args.unet_channels.split(","))
    vae_channels = tuple(int(c) for c in args.vae_channels.split(","))
    torch.manual_seed(args.seed)
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=unet_channels,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        attention_head_dim=1,  # diffusers' SD 1.x name for the head count: one head as wide as the level
        cross_attention_dim=64, norm_num_groups=8)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=vae_channels,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=8, sample_size=512, scaling_factor=0.18215)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    unet.save_pretrained(os.path.join(args.out, "unet"), safe_serialization=True)
    vae.save_pretrained(os.path.join(args.out, "vae"), safe_serialization=True)
    for part in ("text_encoder", "tokenizer", "scheduler", "model_index.json"):
        src = os.path.join(DEMO, part)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(args.out, part))
    params = sum(t.numel() for t in unet.parameters()) + sum(t.numel() for t in vae.parameters())
    print(f"wrote {args.out}: U-Net {unet_channels}, VAE {vae_channels}, {params / 1e6:.2f} M parameters")


if __name__ == "__main__":
    main()
