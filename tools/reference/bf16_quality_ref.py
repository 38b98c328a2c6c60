#!/usr/bin/env python3
"""How far PyTorch's bfloat16 images are from its float32 images: the bound `--precision bf16` is held to.

Run in the pinned venv:  python tools/reference/bf16_quality_ref.py

For the demo model (models/shapes) and the tiny family fixtures (Tests/Fixtures/models), each case is generated
by diffusers 0.29.2 three times from the same seed: float32; under torch.autocast("cpu", bfloat16) (float32
weights, matrix products and convolutions in bfloat16, what PyTorch users run on a CPU); and with the pipeline
cast to bfloat16. Each case runs from SEEDS consecutive seeds: the distance of one bfloat16 image from its
float32 image swings by several dB with the seed (the sampler amplifies rounding differences), so one image
per case made the comparison a coin toss. Writes Tests/Fixtures/bf16/quality.json: each case's request, and
for each seed the PSNR (dB) and largest pixel difference (0-255) of both bfloat16 images against the float32
one. BFloat16QualityTests generates the same requests with hidiff in fp32 and bf16 and holds hidiff's
bf16-vs-fp32 distance to PyTorch's: mean PSNR over the seeds, and the largest difference over them.
"""
import json
import os

import numpy as np
import torch
from diffusers import DDIMScheduler, DiffusionPipeline

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "bf16", "quality.json")
SEEDS = 4
# model (relative to the repo), width, height, steps, guidance, first seed, prompt
CASES = [
    ("models/shapes", 64, 64, 25, 6.0, 0, "a red circle"),
    ("models/shapes", 128, 128, 25, 6.0, 3, "a blue square"),
    ("Tests/Fixtures/models/sd15-tiny", 64, 64, 10, 7.5, 7, "a red cube on a table"),
    ("Tests/Fixtures/models/sd21-tiny", 64, 64, 10, 7.5, 7, "a red cube on a table"),
    ("Tests/Fixtures/models/sdxl-tiny", 64, 64, 10, 5.0, 7, "a red cube on a table"),
]


def generate(pipe, case, mode, seed):
    _, width, height, steps, guidance, _, prompt = case
    g = torch.Generator("cpu").manual_seed(seed)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "autocast")
    with torch.inference_mode(), autocast:
        image = pipe(prompt, width=width, height=height, num_inference_steps=steps, guidance_scale=guidance,
                     generator=g, output_type="np").images[0]
    return (np.asarray(image, dtype=np.float32) * 255).round().clip(0, 255).astype(np.uint8)


def distance(a, b):
    diff = a.astype(np.int32) - b.astype(np.int32)
    mse = float((diff ** 2).mean())
    return {"psnr": float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse), "max_diff": int(np.abs(diff).max())}


def main():
    results = []
    for case in CASES:
        path = os.path.join(REPO, case[0])
        pipe = DiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False) \
            if "shapes" in path or "sd1" in path or "sd2" in path else DiffusionPipeline.from_pretrained(path)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        model, width, height, steps, guidance, seed, prompt = case
        seeds = list(range(seed, seed + SEEDS))
        fp32 = [generate(pipe, case, "fp32", s) for s in seeds]
        autocast = [generate(pipe, case, "autocast", s) for s in seeds]
        pipe = pipe.to(torch.bfloat16)
        weights = [generate(pipe, case, "bf16", s) for s in seeds]
        results.append({"model": model, "width": width, "height": height, "steps": steps, "guidance": guidance,
                        "seeds": seeds, "prompt": prompt, "scheduler": "ddim",
                        "torch_autocast": [distance(a, f) for a, f in zip(autocast, fp32)],
                        "torch_bf16_weights": [distance(w, f) for w, f in zip(weights, fp32)]})
        print(json.dumps(results[-1]), flush=True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
