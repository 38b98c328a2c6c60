#!/usr/bin/env python3
"""Train the shapes model's CLIP text encoder and U-Net jointly on pre-encoded latents, and write the
complete diffusers pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).

- Latents: every training image is encoded once by the trained VAE (posterior mean and std are kept); each
  step draws a fresh latent sample from that posterior and multiplies it by the VAE's scaling factor.
- Noise: SD 1.5's scaled-linear betas (0.00085..0.012, 1000 steps), epsilon prediction.
- Loss: MSE on the noise, weighted min(SNR, 5) / SNR ("min-SNR-5", which speeds up convergence on small data).
- 10 % of captions are replaced by the empty prompt, for classifier-free guidance.
- AdamW (lr 5e-4, weight decay 0.01), linear warm-up then cosine decay to 10 %; gradient clipping at 1.
- EMA (decay min(0.999, (1+step)/(10+step))) of the U-Net and text-encoder weights; the EMA weights are saved.
- The text encoder is run once per distinct caption in a batch (there are only 13), which gives the same
  gradients as running it per sample.

Usage: train_unet.py --data data.npz --vae work/vae --out models/shapes --steps 2000 --seed 0
"""
import argparse
import copy
import math
import os
import time

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel

import shapes_model as sm


def lr_at(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def encode_dataset(vae, images, batch=250):
    means, stds = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            post = vae.encode(x).latent_dist
            means.append(post.mean)
            stds.append(post.std)
    return torch.cat(means), torch.cat(stds)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vae", required=True, help="folder written by train_vae.py")
    ap.add_argument("--out", required=True, help="pipeline folder to write")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--drop", type=float, default=0.1, help="empty-prompt probability")
    ap.add_argument("--snr-gamma", type=float, default=5.0, help="min-SNR weighting; 0 disables")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    sm.setup_threads()
    sm.seed_everything(args.seed)
    start = time.time()
    data = np.load(args.data)
    images, captions = data["images"], [str(c) for c in data["captions"]]
    vae = AutoencoderKL.from_pretrained(args.vae).eval()
    scale = vae.config.scaling_factor
    lat_mean, lat_std = encode_dataset(vae, images)
    n = len(images)
    print(f"encoded {n} images to latents {tuple(lat_mean.shape[1:])} in {time.time() - start:.0f}s; "
          f"scaling_factor {scale}", flush=True)

    tok_dir = os.path.join(args.out, "tokenizer")
    tokenizer = sm.make_tokenizer(tok_dir)
    prompts = sorted(set(captions)) + [""]
    prompt_ids = sm.tokenize(tokenizer, prompts)
    caption_index = torch.tensor([prompts.index(c) for c in captions])
    empty_index = len(prompts) - 1

    text_encoder = CLIPTextModel(sm.text_config(tokenizer))
    unet = UNet2DConditionModel(**sm.UNET_CONFIG)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    ema_unet, ema_te = copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()
    ema_params = list(ema_unet.parameters()) + list(ema_te.parameters())
    for p in ema_params:
        p.requires_grad_(False)

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    snr = alphas_cumprod / (1 - alphas_cumprod)

    gen = torch.Generator().manual_seed(args.seed)
    perm, pos = torch.randperm(n, generator=gen), 0
    unet.train()
    text_encoder.train()
    train_start = time.time()
    run_loss = None
    for step in range(args.steps):
        if pos + args.batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
        lat = (lat_mean[idx] + lat_std[idx] * torch.randn(lat_mean[idx].shape, generator=gen)) * scale
        cap = caption_index[idx].clone()
        cap[torch.rand(len(idx), generator=gen) < args.drop] = empty_index
        t = torch.randint(0, 1000, (len(idx),), generator=gen)
        noise = torch.randn(lat.shape, generator=gen)
        ac = alphas_cumprod[t].view(-1, 1, 1, 1)
        noisy = ac.sqrt() * lat + (1 - ac).sqrt() * noise

        used, inverse = torch.unique(cap, return_inverse=True)
        hidden = text_encoder(prompt_ids[used])[0][inverse]
        pred = unet(noisy, t, hidden).sample
        per = (pred - noise).pow(2).mean(dim=(1, 2, 3))
        if args.snr_gamma > 0:
            per = per * torch.clamp(snr[t], max=args.snr_gamma) / snr[t]
        loss = per.mean()

        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema_params, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)

        run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
        if step % 50 == 0 or step == args.steps - 1:
            el = time.time() - train_start
            eta = el / (step + 1) * (args.steps - step - 1)
            print(f"unet step {step}/{args.steps} loss {loss.item():.4f} avg {run_loss:.4f} "
                  f"lr {opt.param_groups[0]['lr']:.2e} elapsed {el:.0f}s ({el / (step + 1):.2f}s/step) "
                  f"eta {eta / 60:.1f}min", flush=True)

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=ema_te,
        tokenizer=tokenizer,
        unet=ema_unet,
        scheduler=DDIMScheduler(**sm.SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(args.out, safe_serialization=True)
    print(f"unet done: {args.steps} steps, training {time.time() - train_start:.0f}s, "
          f"total {time.time() - start:.0f}s; wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
