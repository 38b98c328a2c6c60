#!/usr/bin/env python3
"""Train the shapes model's AutoencoderKL (64x64 RGB <-> 4x16x16 latent).

Most steps train on random 32x32 crops (4x cheaper; the autoencoder is convolutional), the last
--full-frac of the steps on whole 64x64 images so the mid-block attention and GroupNorm statistics see the
full size used at inference.

Loss: L1 + MSE reconstruction of a sampled latent, plus a small KL term (weight 1e-6, as SD's VAE) that
keeps the posterior near a unit Gaussian's shape without blurring. AdamW, linear warm-up then cosine decay.
After training the latent scaling factor (1 / std of the latents over the training set, as SD's 0.18215 was
chosen) is written into the config.

Usage: train_vae.py --data data.npz --out work/vae --steps 1000 --seed 0
"""
import argparse
import math
import time

import numpy as np
import torch
from diffusers import AutoencoderKL

import shapes_model as sm


def to_tensor(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lr_at(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=32, help="crop size for the first steps (64 = no crops)")
    ap.add_argument("--full-frac", type=float, default=0.15, help="fraction of steps on whole images")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--kl", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    sm.setup_threads()
    sm.seed_everything(args.seed)
    images = np.load(args.data)["images"]
    n = len(images)
    vae = AutoencoderKL(**sm.VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    perm = torch.randperm(n, generator=gen)
    pos = 0
    start = time.time()
    vae.train()
    for step in range(args.steps):
        if pos + args.batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
        x = to_tensor(images[idx.numpy()])
        if args.crop < x.shape[-1] and step < args.steps * (1 - args.full_frac):
            ox, oy = (torch.randint(0, x.shape[-1] - args.crop + 1, (2,), generator=gen) // 4 * 4).tolist()
            x = x[:, :, oy:oy + args.crop, ox:ox + args.crop]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
        rec = vae.decode(z).sample
        l1 = (rec - x).abs().mean()
        mse = (rec - x).pow(2).mean()
        kl = post.kl().mean() / z[0].numel()
        loss = l1 + mse + args.kl * kl * z[0].numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == args.steps - 1:
            el = time.time() - start
            print(f"vae step {step}/{args.steps} l1 {l1.item():.4f} mse {mse.item():.5f} kl/elem {kl.item():.3f} "
                  f"lr {opt.param_groups[0]['lr']:.2e} elapsed {el:.0f}s ({el / (step + 1):.2f}s/step)", flush=True)

    # Scaling factor: 1 / std of sampled latents over (up to) 2000 training images.
    vae.eval()
    with torch.no_grad():
        zs = []
        for i in range(0, min(n, 2000), 100):
            post = vae.encode(to_tensor(images[i:i + 100])).latent_dist
            zs.append(post.mean + post.std * torch.randn(post.mean.shape, generator=gen))
        zs = torch.cat(zs)
        scale = float(f"{1.0 / zs.std().item():.5g}")
        rec = vae.decode(vae.encode(to_tensor(images[:200])).latent_dist.mean).sample
        l1 = (rec - to_tensor(images[:200])).abs().mean().item()
    vae.register_to_config(scaling_factor=scale)
    vae.save_pretrained(args.out, safe_serialization=True)
    total = time.time() - start
    print(f"vae done: {args.steps} steps in {total:.0f}s; latent mean {zs.mean().item():.3f} std {zs.std().item():.3f} "
          f"-> scaling_factor {scale}; eval L1 (mean latent, 200 imgs, [-1,1] scale) {l1:.4f}", flush=True)


if __name__ == "__main__":
    main()
