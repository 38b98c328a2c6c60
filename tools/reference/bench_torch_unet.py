#!/usr/bin/env python3
"""Times diffusers' UNet2DConditionModel forward on the CPU, the PyTorch side of `hidiff bench unet`.

    /work/venv/bin/python tools/reference/bench_torch_unet.py --model /work/fullsize/sd15/unet \
        --width 512 --height 512 --batch 2 --runs 3

Loads a U-Net folder (config.json + safetensors, e.g. the one make_fullsize.py writes; or a pipeline folder's unet/)
with one copy of its weights (lean_load.py: from_pretrained without accelerate holds two, ~21 GB for SDXL), draws random
latents and text states, runs `--warmup` untimed forwards (default 1) and `--runs` timed ones under torch.inference_mode, and
prints one JSON line with the same keys as `hidiff bench unet` (median_s, min_s, peak_rss_bytes) plus the
process CPU seconds per forward (median_cpu_s), which stay comparable when other jobs share the cores.
"""
import argparse
import json
import resource
import statistics
import time

import os
import sys

import torch
from diffusers import UNet2DConditionModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lean_load import load_diffusers_model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a U-Net folder (config.json + diffusion_pytorch_model.safetensors) "
                                                   "or a pipeline folder (its unet/)")
    p.add_argument("-W", "--width", type=int, default=512)
    p.add_argument("-H", "--height", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed forwards before the timed ones")
    p.add_argument("--vae-factor", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--precision", choices=["fp32", "bf16-autocast", "bf16"], default="fp32",
                   help="fp32; bf16-autocast: float32 weights under torch.autocast('cpu', bfloat16); "
                        "bf16: the weights and inputs cast to bfloat16")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    folder = args.model
    if os.path.exists(os.path.join(folder, "model_index.json")):
        folder = os.path.join(folder, "unet")
    unet = load_diffusers_model(UNet2DConditionModel, folder,
                                torch.bfloat16 if args.precision == "bf16" else torch.float32)
    load_s = time.perf_counter() - t0
    g = torch.Generator().manual_seed(0)
    h, w = args.height // args.vae_factor, args.width // args.vae_factor
    sample = torch.randn((args.batch, unet.config.in_channels, h, w), generator=g)
    context = torch.randn((args.batch, 77, unet.config.cross_attention_dim), generator=g)
    t = torch.tensor(500)
    kwargs = {}
    if unet.config.addition_embed_type == "text_time":
        # SDXL: pooled text embedding (projection input minus six time ids) and time ids (h, w, 0, 0, h, w),
        # the same inputs `hidiff bench unet` builds.
        pooled = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
        ids = torch.tensor([[args.height, args.width, 0, 0, args.height, args.width]], dtype=torch.float32)
        kwargs["added_cond_kwargs"] = {"text_embeds": torch.randn((args.batch, pooled), generator=g),
                                       "time_ids": ids.repeat(args.batch, 1)}

    if args.precision == "bf16":
        sample, context = sample.to(torch.bfloat16), context.to(torch.bfloat16)
        kwargs = {k: {n: t.to(torch.bfloat16) for n, t in v.items()} for k, v in kwargs.items()}
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-autocast")
    walls, cpus = [], []
    with torch.inference_mode(), autocast:
        for i in range(args.warmup + args.runs):
            w0, c0 = time.perf_counter(), time.process_time()
            unet(sample, t, encoder_hidden_states=context, **kwargs)
            if i >= args.warmup:
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
    print(json.dumps({
        "bench": "torch_unet", "model": args.model, "precision": args.precision, "width": args.width, "height": args.height,
        "batch": args.batch, "runs": args.runs, "warmup": args.warmup, "median_s": statistics.median(walls), "min_s": min(walls),
        "median_cpu_s": statistics.median(cpus), "load_s": load_s, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "attention_processor": type(unet.attn_processors[next(iter(unet.attn_processors))]).__name__,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
