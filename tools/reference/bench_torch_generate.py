#!/usr/bin/env python3
"""Times diffusers' whole text-to-image generation on the CPU, the PyTorch side of `hidiff bench generate`.

    /work/venv/bin/python tools/reference/bench_torch_generate.py --model /work/fullsize/sd15-pipeline \
        -W 512 -H 512 --steps 20 --runs 3 --precision fp32

Loads a pipeline folder once (StableDiffusionPipeline or StableDiffusionXLPipeline, as its model_index.json says;
the folder's own scheduler), then runs `--warmup` untimed and `--runs` timed generations: the same prompt, no
negative prompt, guidance 7.5 (so every U-Net call is batch 2), seed `--seed` from torch.Generator("cpu"). Prints one
JSON line with the keys `hidiff bench generate` prints: median_s / min_s / median_cpu_s per run (text encoders,
every denoising step, VAE decode and the conversion to 8-bit images), phases of the median run, peak_rss_bytes.

Phases: the pipeline runs with output_type="latent" and the VAE decode (+ postprocess to PIL) is timed after it;
a forward pre-hook on the U-Net marks the first U-Net call and callback_on_step_end each step's end, so
text_encode_and_setup_s runs from the call to the first U-Net call (prompt encoding, timesteps, initial noise),
denoise_s from there to the last step's end, step_median_s is the median step.

--precision: fp32; bf16-autocast (float32 weights, the whole generation under torch.autocast("cpu", bfloat16));
bf16 (every component's weights in bfloat16, as `from_pretrained(torch_dtype=torch.bfloat16)` gives; the latents
follow). The U-Net and the VAE are loaded with one copy of their weights (lean_load.py), so the peak RSS is the
generation's, not from_pretrained's double copy.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
from diffusers import (AutoencoderKL, StableDiffusionPipeline, StableDiffusionXLPipeline,
                       UNet2DConditionModel)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lean_load import load_diffusers_model  # noqa: E402

DEFAULT_PROMPT = "a photo of an astronaut riding a horse on mars"  # hidiff bench generate's default


def load_pipeline(folder, dtype):
    index_path = os.path.join(folder, "model_index.json")
    if not os.path.exists(index_path):
        raise SystemExit(f"{folder}: no model_index.json; give a diffusers pipeline folder (write one with "
                         f"tools/reference/make_fullsize_pipeline.py)")
    name = json.load(open(index_path))["_class_name"]
    classes = {"StableDiffusionPipeline": StableDiffusionPipeline,
               "StableDiffusionXLPipeline": StableDiffusionXLPipeline}
    if name not in classes:
        raise SystemExit(f"{folder}: a {name}; this benchmark runs {' or '.join(classes)}")
    extra = {"add_watermarker": False} if name == "StableDiffusionXLPipeline" else {
        "safety_checker": None, "requires_safety_checker": False}
    unet = load_diffusers_model(UNet2DConditionModel, os.path.join(folder, "unet"), dtype)
    vae = load_diffusers_model(AutoencoderKL, os.path.join(folder, "vae"), dtype)
    pipe = classes[name].from_pretrained(folder, unet=unet, vae=vae, torch_dtype=dtype, **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe, "sdxl" if name == "StableDiffusionXLPipeline" else "sd"


def generate(pipe, args, autocast):
    """One whole generation: wall, CPU seconds and phases."""
    marks = {"unet": [], "steps": []}
    hook = pipe.unet.register_forward_pre_hook(lambda *_: marks["unet"].append(time.perf_counter()))

    def on_step(p, i, t, kw):
        marks["steps"].append(time.perf_counter())
        return kw

    try:
        w0, c0 = time.perf_counter(), time.process_time()
        with torch.inference_mode(), autocast:
            latents = pipe(args.prompt, width=args.width, height=args.height, num_inference_steps=args.steps,
                           guidance_scale=args.cfg_scale, num_images_per_prompt=args.batch,
                           generator=torch.Generator("cpu").manual_seed(args.seed), output_type="latent",
                           callback_on_step_end=on_step).images
            d0 = time.perf_counter()
            image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
            images = pipe.image_processor.postprocess(image, output_type="pil")
        end = time.perf_counter()
    finally:
        hook.remove()
    assert len(images) == args.batch and images[0].size == (args.width, args.height), images[0].size
    first, steps = marks["unet"][0], marks["steps"]
    return {"wall": end - w0, "cpu": time.process_time() - c0, "unet_calls": len(marks["unet"]),
            "phases": {"text_encode_and_setup_s": first - w0, "denoise_s": steps[-1] - first,
                       "step_median_s": statistics.median(b - a for a, b in zip([first] + steps, steps)),
                       "vae_decode_s": end - d0}}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a diffusers pipeline folder (model_index.json, unet/, vae/, ...)")
    p.add_argument("-W", "--width", type=int, default=0, help="pixels (default: the model's native size)")
    p.add_argument("-H", "--height", type=int, default=0, help="pixels (default: the model's native size)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed generations before the timed ones")
    p.add_argument("--batch", type=int, default=1,
                   help="images per prompt, in one pipeline call (num_images_per_prompt: U-Net batch 2 x this)")
    p.add_argument("--cfg-scale", type=float, default=7.5)
    p.add_argument("--prompt", default=DEFAULT_PROMPT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--precision", choices=["fp32", "bf16-autocast", "bf16"], default="fp32",
                   help="fp32; bf16-autocast: float32 weights under torch.autocast('cpu', bfloat16); "
                        "bf16: every component's weights in bfloat16")
    args = p.parse_args()
    for name, lo, hi in (("runs", 1, 1000), ("warmup", 0, 100), ("batch", 1, 64), ("steps", 1, 1000)):
        if not lo <= getattr(args, name) <= hi:
            p.error(f"--{name} must be from {lo} to {hi} (got {getattr(args, name)})")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    pipe, family = load_pipeline(args.model, torch.bfloat16 if args.precision == "bf16" else torch.float32)
    load_s = time.perf_counter() - t0
    native = pipe.unet.config.sample_size * pipe.vae_scale_factor
    args.width, args.height = args.width or native, args.height or native
    for side in ("width", "height"):
        if getattr(args, side) % 8:
            p.error(f"--{side} must be a multiple of 8 (got {getattr(args, side)})")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-autocast")
    runs = []
    for i in range(args.warmup + args.runs):
        r = generate(pipe, args, autocast)
        if i >= args.warmup:
            runs.append(r)
    by_wall = sorted(runs, key=lambda r: r["wall"])
    median_run = by_wall[len(by_wall) // 2]  # upper median for even counts, as hidiff; its phases are reported
    print(json.dumps({
        "bench": "torch_generate", "model": args.model, "family": family, "width": args.width,
        "height": args.height, "steps": args.steps, "cfg_scale": args.cfg_scale,
        "unet_batch": 2 * args.batch if args.cfg_scale > 1 else args.batch, "batch": args.batch,
        "batch_mode": "num_images_per_prompt", "precision": args.precision, "runs": args.runs,
        "warmup": args.warmup, "seed": args.seed, "prompt": args.prompt, "scheduler": type(pipe.scheduler).__name__,
        "median_s": median_run["wall"], "min_s": by_wall[0]["wall"],
        "median_cpu_s": sorted(r["cpu"] for r in runs)[len(runs) // 2], "phases": median_run["phases"],
        "phases_timed": "U-Net pre-hook and step callbacks, VAE decode after output_type='latent'; median run",
        "unet_calls": median_run["unet_calls"], "load_s": load_s, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "threads": torch.get_num_threads(),
        "attention_processor": type(pipe.unet.attn_processors[next(iter(pipe.unet.attn_processors))]).__name__,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
