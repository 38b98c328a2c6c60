#!/usr/bin/env python3
"""Oracle fixtures for HiDiffSchedulers and TorchGenerator (see FIXTURES.md).

Writes, relative to the package root:
  Tests/Fixtures/randn.json               torch.randn bit patterns for several seeds/shapes and consecutive draws
  Tests/Fixtures/schedulers.json          {"alphas_cumprod": {...}, "schedulers": {"<case>": {...}}}
  Tests/Fixtures/schedulers.safetensors   <case>.sample, <case>.base, <case>.model_output.0, <case>.prev.<i>,
                                          <case>.original/.noise/.noisy (img2img), alphas_cumprod.<name>

Every scheduler case is built the way a pipeline swaps schedulers: the raw scheduler_config.json dict is loaded
with its own `_class_name` class, then `<Kind>.from_config(that.config)` (so keys absent from the file take the
new class's defaults). The synthetic "U-Net" is model_output_i = scale_model_input(sample_i) * a_i + base * b_i
with a_i = 0.05 + 0.01 * (i % 7) and b_i = 0.9 - 0.02 * (i % 5) (Python doubles, applied as float32 scalars),
so the Swift tests replay it exactly from the stored samples.

Run with the pinned venv (torch 2.15.0, diffusers 0.29.2) on an x86-64 CPU with AVX2:
  /work/venv/bin/python tools/reference/schedulers_ref.py
"""
import json
import os
import sys

import numpy as np
import torch
import diffusers
from safetensors.torch import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")

SHAPE = (1, 4, 4, 4)  # >= 16 elements so ancestral noise takes torch's vectorised path

KINDS = {
    "pndm": "PNDMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "dpm++2m": "DPMSolverMultistepScheduler",
}

# Stable Diffusion 1.5's scheduler_config.json, as shipped.
SD15 = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}


def coefficients(i):
    return 0.05 + 0.01 * (i % 7), 0.9 - 0.02 * (i % 5)


def build(kind, raw, karras=False):
    source = getattr(diffusers, raw["_class_name"]).from_config(raw)
    cls = getattr(diffusers, KINDS[kind])
    if karras:
        return cls.from_config(source.config, use_karras_sigmas=True)
    return cls.from_config(source.config)


def floats(t):
    return [float(x) for x in t.flatten().tolist()]


def timestep_list(ts):
    return [int(x) if float(x).is_integer() and ts.dtype == torch.int64 else float(x) for x in ts.tolist()]


def accepts(fn, name):
    import inspect
    return name in inspect.signature(fn).parameters


def run_case(name, kind, raw, steps, tensors, cases, karras=False, eta=None, strength=None, trajectory=True,
             seed=1234):
    sched = build(kind, raw, karras)
    sched.set_timesteps(steps)
    full = sched.timesteps
    entry = {
        "kind": kind,
        "karras": karras,
        "config": raw,
        "steps": steps,
        "timesteps": timestep_list(full),
        "init_noise_sigma": float(sched.init_noise_sigma),
        "seed": seed,
    }
    if hasattr(sched, "sigmas") and kind in ("euler", "euler-a", "dpm++2m"):
        entry["sigmas"] = floats(sched.sigmas)
    if eta is not None:
        entry["eta"] = eta
    base = torch.randn(SHAPE, generator=torch.Generator("cpu").manual_seed(seed + 1))
    tensors[f"{name}.base"] = base
    start = 0
    if strength is None:
        sample = torch.randn(SHAPE, generator=torch.Generator("cpu").manual_seed(seed + 2)) * sched.init_noise_sigma
        run = full
    else:
        # StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents' add_noise.
        init_timestep = min(int(steps * strength), steps)
        start = max(steps - init_timestep, 0)
        run = full[start * sched.order:]
        if hasattr(sched, "set_begin_index"):
            sched.set_begin_index(start * sched.order)
        original = torch.randn(SHAPE, generator=torch.Generator("cpu").manual_seed(seed + 3))
        noise = torch.randn(SHAPE, generator=torch.Generator("cpu").manual_seed(seed + 4))
        sample = sched.add_noise(original, noise, run[:1].repeat(SHAPE[0]))
        tensors[f"{name}.original"] = original
        tensors[f"{name}.noise"] = noise
        tensors[f"{name}.noisy"] = sample.clone()
        entry["strength"] = strength
        entry["start_index"] = start
    entry["run_count"] = len(run)
    tensors[f"{name}.sample"] = sample.clone()
    if trajectory:
        generator = torch.Generator("cpu").manual_seed(seed)
        for i, t in enumerate(run):
            x_in = sched.scale_model_input(sample, t)
            a, b = coefficients(i)
            model_output = x_in * a + base * b
            if i == 0:
                tensors[f"{name}.model_output.0"] = model_output.clone()
            kwargs = {}
            if accepts(sched.step, "generator"):
                kwargs["generator"] = generator
            if eta is not None:
                kwargs["eta"] = eta
            sample = sched.step(model_output, t, sample, **kwargs).prev_sample
            tensors[f"{name}.prev.{i}"] = sample.clone()
        entry["trajectory"] = True
    else:
        entry["trajectory"] = False
    cases[name] = entry


def scheduler_fixtures():
    tensors, cases = {}, {}
    step_counts = [1, 4, 10, 25, 50]
    variants = [("pndm", False), ("ddim", False), ("euler", False), ("euler", True), ("euler-a", False),
                ("dpm++2m", False), ("dpm++2m", True)]
    for kind, karras in variants:
        for prediction in ["epsilon", "v_prediction"]:
            for spacing in ["leading", "trailing", "linspace"]:
                for steps in step_counts:
                    raw = dict(SD15, prediction_type=prediction, timestep_spacing=spacing)
                    name = f"{kind}{'-karras' if karras else ''}.{prediction}.{spacing}.{steps}"
                    run_case(name, kind, raw, steps, tensors, cases, karras=karras)
    # Scheduler swapped onto SD 1.5's raw config (absent keys take each class's own defaults).
    for kind in KINDS:
        for steps in [20, 30]:
            run_case(f"{kind}.sd15.{steps}", kind, dict(SD15), steps, tensors, cases)
    run_case("euler-karras.sd15.20", "euler", dict(SD15), 20, tensors, cases, karras=True)
    run_case("dpm++2m-karras.sd15.20", "dpm++2m", dict(SD15), 20, tensors, cases, karras=True)
    # Odd step counts exercise numpy's float arange/linspace rounding.
    for kind in ["ddim", "euler", "dpm++2m"]:
        for spacing in ["leading", "trailing", "linspace"]:
            for steps in [3, 7, 13, 37]:
                raw = dict(SD15, timestep_spacing=spacing)
                run_case(f"{kind}.odd.{spacing}.{steps}", kind, raw, steps, tensors, cases, trajectory=steps <= 13)
    # Special configurations.
    prk = dict(SD15, skip_prk_steps=False)
    for steps in [4, 10, 25]:
        run_case(f"pndm-prk.{steps}", "pndm", prk, steps, tensors, cases)
    ddim_default = {"_class_name": "DDIMScheduler"}  # linear betas, clip_sample, set_alpha_to_one
    for steps in [10, 50]:
        run_case(f"ddim.defaults.{steps}", "ddim", ddim_default, steps, tensors, cases)
    run_case("ddim.eta.10", "ddim", dict(SD15), 10, tensors, cases, eta=0.5)
    run_case("ddim.sample.10", "ddim", dict(SD15, prediction_type="sample"), 10, tensors, cases)
    run_case("ddim.zsnr.trailing.10", "ddim",
             dict(SD15, rescale_betas_zero_snr=True, timestep_spacing="trailing", prediction_type="v_prediction"),
             10, tensors, cases)
    run_case("euler.zsnr.trailing.10", "euler",
             dict(SD15, rescale_betas_zero_snr=True, timestep_spacing="trailing", prediction_type="v_prediction"),
             10, tensors, cases)
    run_case("euler.sigma_min.10", "euler", dict(SD15, final_sigmas_type="sigma_min"), 10, tensors, cases)
    run_case("euler.sample.10", "euler", dict(SD15, prediction_type="sample"), 10, tensors, cases)
    run_case("euler.cosine.10", "euler", dict(SD15, beta_schedule="squaredcos_cap_v2"), 10, tensors, cases)
    run_case("euler-a.linear.10", "euler-a", dict(SD15, beta_schedule="linear", beta_start=0.0001,
                                                  beta_end=0.02), 10, tensors, cases)
    run_case("dpm++2m.order3.20", "dpm++2m", dict(SD15, solver_order=3), 20, tensors, cases)
    run_case("dpm++2m.order1.10", "dpm++2m", dict(SD15, solver_order=1), 10, tensors, cases)
    run_case("dpm++2m.heun.20", "dpm++2m", dict(SD15, solver_type="heun"), 20, tensors, cases)
    run_case("dpm++2m.nofinal.20", "dpm++2m", dict(SD15, lower_order_final=False, final_sigmas_type="sigma_min"),
             20, tensors, cases)
    run_case("dpm++2m.sigma_min.10", "dpm++2m", dict(SD15, final_sigmas_type="sigma_min"), 10, tensors, cases)
    run_case("dpm++2m.lambda_clip.10", "dpm++2m", dict(SD15, lambda_min_clipped=-5.1, timestep_spacing="trailing"),
             10, tensors, cases)
    run_case("dpm++2m.sample.10", "dpm++2m", dict(SD15, prediction_type="sample"), 10, tensors, cases)
    run_case("dpm++2m.zsnr.10", "dpm++2m", dict(SD15, rescale_betas_zero_snr=True, prediction_type="v_prediction",
                                                  timestep_spacing="trailing"), 10, tensors, cases)
    # img2img: timestep truncation by strength, add_noise and the truncated trajectory.
    for kind, karras in variants:
        for steps in [10, 25]:
            for strength in [0.3, 0.6, 1.0]:
                name = f"{kind}{'-karras' if karras else ''}.img2img.{steps}.{strength}"
                run_case(name, kind, dict(SD15), steps, tensors, cases, karras=karras, strength=strength,
                         trajectory=steps == 10)

    # alphas_cumprod for every beta schedule (bit-exact float32).
    schedules = {
        "scaled_linear": dict(SD15),
        "linear": {"_class_name": "DDIMScheduler"},
        "squaredcos_cap_v2": {"_class_name": "DDIMScheduler", "beta_schedule": "squaredcos_cap_v2"},
        "zsnr": dict(SD15, _class_name="DDIMScheduler", rescale_betas_zero_snr=True),
    }
    acp = {}
    for key, raw in schedules.items():
        sched = getattr(diffusers, raw["_class_name"]).from_config(raw)
        tensors[f"alphas_cumprod.{key}"] = sched.alphas_cumprod.clone()
        acp[key] = {"config": raw}
    return tensors, {"alphas_cumprod": acp, "schedulers": cases}


def fnv1a64(t):
    h = 0xCBF29CE484222325
    for byte in t.contiguous().numpy().astype("<f4").tobytes():
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def describe(t):
    flat = t.flatten()
    bits = flat.numpy().view(np.uint32)
    return {
        "shape": list(t.shape),
        "first": [float(x) for x in flat[:16].tolist()],
        "last": [float(x) for x in flat[-16:].tolist()],
        "sum": float(flat.double().sum()),
        "bits_first": [int(x) for x in bits[:16]],
        "bits_last": [int(x) for x in bits[-16:]],
        "fnv1a64": fnv1a64(flat),
    }


def randn_fixtures():
    single = [(0, (1, 4, 64, 64)), (42, (1, 4, 128, 96)), (1234, (2, 4, 8, 8)), (7, (1, 4, 8, 12)),
              (3, (5,)), (99, (1, 3, 5)), (2**32 + 5, (16,)), (123456789, (1, 4, 96, 64))]
    out = []
    for seed, shape in single:
        t = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))
        out.append(dict(seed=seed, **describe(t)))
    sequences = [(2024, [(1, 4, 8, 8), (1, 4, 8, 8)]),
                 (5, [(3,), (3,), (20,), (1,)]),
                 (11, [(1, 4, 64, 64), (1, 4, 64, 64), (1, 4, 64, 64)]),
                 (13, [(3,), (1, 4, 8, 8), (1,)])]
    for seed, shapes in sequences:
        g = torch.Generator("cpu").manual_seed(seed)
        out.append({"seed": seed, "draws": [describe(torch.randn(s, generator=g)) for s in shapes]})
    return out


def main():
    assert torch.__version__.startswith("2.15.0"), torch.__version__
    assert diffusers.__version__ == "0.29.2", diffusers.__version__
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in ("AVX2", "AVX512"):
        sys.exit(f"torch CPU capability is {capability}; the fixtures need the AVX2/AVX-512 kernels")
    os.makedirs(FIXTURES, exist_ok=True)
    with open(os.path.join(FIXTURES, "randn.json"), "w") as f:
        json.dump(randn_fixtures(), f, indent=1)
    tensors, doc = scheduler_fixtures()
    tensors = {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(FIXTURES, "schedulers.safetensors"))
    os.chmod(os.path.join(FIXTURES, "schedulers.safetensors"), 0o644)
    with open(os.path.join(FIXTURES, "schedulers.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{len(doc['schedulers'])} scheduler cases, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
