#!/usr/bin/env python3
"""Duplication benchmark of a shapes-style model with diffusers (+ the authors' hidiffusion 0.1.10).

For every size and mode (direct inference, HiDiffusion with the authors' defaults), generate one image per
seed S..S+N-1 with DDIM (25 steps, guidance 6), count objects of the prompt's colour with count_objects.py,
and print a table: images, share with more than one object, mean objects, share with none, seconds/image.

Prompts: seed S+i uses PROMPTS[i % 12] (every colour x shape), unless --prompt fixes one.
The generator is torch.Generator("cpu").manual_seed(seed), passed to the pipeline (initial latents only).

Usage: eval_duplication.py --model models/shapes --sizes 64,128 --seeds 16 --seed-base 0 \
           --sheet /tmp/sheet.png [--json out.json]
"""
import argparse
import json
import time

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline

import count_objects as co

PROMPTS = [f"a {c} {s}" for s in ("circle", "square", "triangle") for c in ("red", "green", "blue", "yellow")]


def load(model):
    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    # hidiffusion reads the pipeline's name (family detection, inpainting/playground flags).
    pipe.register_to_config(_name_or_path=str(model))
    return pipe


def run_case(pipe, size, mode, seeds, prompt, steps, guidance):
    from hidiffusion import apply_hidiffusion, remove_hidiffusion

    patch = {}
    if mode == "hidiffusion-x4":
        # The authors' 4x thresholds (their "sd15_2048" entry), which their absolute-size rule never picks for a
        # 64 px model: the same module-global patch as tools/reference/hidiffusion_ref.py's entry_patch.
        import hidiffusion.hidiffusion as hd
        patch = {"sd15_1024": dict(hd.switching_threshold_ratio_dict["sd15_2048"])}
        saved = dict(hd.switching_threshold_ratio_dict["sd15_1024"])
        hd.switching_threshold_ratio_dict["sd15_1024"] = patch["sd15_1024"]
    if mode.startswith("hidiffusion"):
        apply_hidiffusion(pipe)
    images, counts, prompts = [], [], []
    t0 = time.time()
    try:
        for i, seed in enumerate(seeds):
            p = prompt or PROMPTS[i % len(PROMPTS)]
            g = torch.Generator("cpu").manual_seed(seed)
            img = pipe(p, height=size, width=size, num_inference_steps=steps, guidance_scale=guidance,
                       generator=g, output_type="np").images[0]
            img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
            images.append(img)
            prompts.append(p)
            counts.append(co.count_objects(img, co.prompt_colour(p)))
    finally:
        if mode.startswith("hidiffusion"):
            remove_hidiffusion(pipe)
        if patch:
            hd.switching_threshold_ratio_dict["sd15_1024"] = saved
    secs = (time.time() - t0) / len(seeds)
    c = np.array(counts)
    row = {"size": size, "mode": mode, "images": len(c), "dup_rate": float((c > 1).mean()),
           "mean_objects": float(c.mean()), "zero_rate": float((c == 0).mean()), "seconds_per_image": secs,
           "counts": counts, "prompts": prompts}
    return row, images


def contact_sheet(rows, path, cell=128):
    from PIL import Image, ImageDraw

    pad = 4
    label_w = 150
    ncol = max(len(imgs) for _, imgs in rows)
    sheet = Image.new("RGB", (label_w + ncol * (cell + pad), len(rows) * (cell + pad + 12)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (row, imgs) in enumerate(rows):
        y = r * (cell + pad + 12)
        draw.text((4, y + cell // 2), f"{row['mode']} {row['size']}", fill="black")
        for c, img in enumerate(imgs):
            x = label_w + c * (cell + pad)
            sheet.paste(Image.fromarray(img).resize((cell, cell), Image.NEAREST), (x, y))
            draw.text((x + 2, y + cell), f"{row['counts'][c]} {row['prompts'][c][2:]}", fill="black")
    sheet.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--modes", default="direct,hidiffusion", help="direct, hidiffusion (the authors' defaults), hidiffusion-x4 (their 4x thresholds); "
                    "HiDiffusion modes are skipped at the native size")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--prompt")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=6.0)
    ap.add_argument("--sheet")
    ap.add_argument("--json")
    args = ap.parse_args()

    import shapes_model as sm

    sm.setup_threads()
    pipe = load(args.model)
    native = pipe.unet.config.sample_size * pipe.vae_scale_factor
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    results = []
    print("| case | images | >1 object | mean objects | no object | s/image |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            if mode.startswith("hidiffusion") and size <= native:
                continue
            row, imgs = run_case(pipe, size, mode, seeds, args.prompt, args.steps, args.guidance)
            results.append((row, imgs))
            print(f"| {mode}, {size}x{size} | {row['images']} | {row['dup_rate'] * 100:.0f}% | "
                  f"{row['mean_objects']:.2f} | {row['zero_rate'] * 100:.0f}% | {row['seconds_per_image']:.2f} |",
                  flush=True)
    if args.sheet:
        contact_sheet(results, args.sheet)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r for r, _ in results], f, indent=1)


if __name__ == "__main__":
    main()
