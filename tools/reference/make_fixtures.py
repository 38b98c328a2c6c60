#!/usr/bin/env python3
"""Tiny SD 1.5 / SD 2.1 models with random weights, and the oracle fixtures the Swift tests assert against.

Run in the pinned venv (see README.md):  python tools/reference/make_fixtures.py [--family sd15|sd21|all]

Writes (contract: tools/reference/FIXTURES.md)
  Tests/Fixtures/models/<model>/        diffusers pipeline folder (save_pretrained, safetensors)
  Tests/Fixtures/<model>/cases.json     non-tensor inputs of every stage
  Tests/Fixtures/<model>/{text_encoder,unet,vae,runs}.safetensors
  Tests/Fixtures/<model>/init.png       the img2img init image; <run>.png for every whole run
with <model> = sd15-tiny, sd21-tiny. Everything is computed from the model folders as reloaded from disk,
so the fixtures describe exactly the committed weights.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import diffusers
import transformers
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, PNDMScheduler, StableDiffusionImg2ImgPipeline,
                       StableDiffusionPipeline, UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
CLIP_VOCAB = os.path.join(REPO, "Sources", "HiDiffModels", "Resources", "clip")

TEXT_WIDTH = 32

# scheduler/scheduler_config.json exactly as the real checkpoints ship them (runwayml/stable-diffusion-v1-5,
# stabilityai/stable-diffusion-2-1); written verbatim and loaded back through from_pretrained like a real model,
# so keys the class does not take (PNDM: clip_sample) still reach Class.from_config(pipe.scheduler.config).
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}
SD21_SCHEDULER = {
    "_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
    "prediction_type": "v_prediction", "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "trained_betas": None}

FAMILIES = {
    "sd15": dict(
        model="sd15-tiny", seed=1500,
        unet=dict(attention_head_dim=2, use_linear_projection=False, upcast_attention=False),
        text=dict(hidden_act="quick_gelu"), pad_token="<|endoftext|>",
        scheduler=SD15_SCHEDULER,
        default_scheduler="pndm"),
    "sd21": dict(
        model="sd21-tiny", seed=2100,
        unet=dict(attention_head_dim=[2, 4, 8, 8], use_linear_projection=True, upcast_attention=True),
        text=dict(hidden_act="gelu"), pad_token="!",
        scheduler=SD21_SCHEDULER,
        default_scheduler="ddim"),
}

SCHEDULER_CLASSES = {"PNDMScheduler": PNDMScheduler, "DDIMScheduler": DDIMScheduler}

# Whole-run scheduler names -> how a diffusers user swaps them in: Class.from_config(pipe.scheduler.config, **extra)
SCHEDULERS = {
    "pndm": (PNDMScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler-a": (EulerAncestralDiscreteScheduler, {}),
    "dpm++2m": (DPMSolverMultistepScheduler, {}),
    "dpm++2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
}

PROMPTS = [
    "a photo of a cat",
    "",
    "A Photo Of A CAT!! (masterpiece:1.2), don't stop; it's 3.14 o'clock",
    "café naïve résumé — “quotes” 🐱 日本語",
    "an astronaut riding a horse on mars, highly detailed, 8k, trending on artstation, by greg rutkowski, "
    "sharp focus, dramatic lighting, cinematic composition, ultra realistic, octane render, unreal engine, "
    "volumetric fog, golden hour, wide angle lens, depth of field, intricate details, award winning photograph",
    "   multiple   spaces\tand\nnewlines   ",
    "hello!world !! wow!",  # SD 2.1: the pad token "!" is a special token, split out before BPE (id 0)
    " ".join(["cat"] * 75),  # exactly 77 ids with BOS/EOS
    " ".join(["cat"] * 76),  # one over: truncated to 75 + EOS
]

NEGATIVE = "blurry, low quality"


# --------------------------------------------------------------------------------------------------- models

def build_tokenizer(fam):
    tok = CLIPTokenizer(os.path.join(CLIP_VOCAB, "vocab.json"), os.path.join(CLIP_VOCAB, "merges.txt"),
                        pad_token=fam["pad_token"], model_max_length=77)
    assert tok.fix_text is None, "ftfy is importable: the venv oracle must run CLIPTokenizer without ftfy"
    return tok


def build_text_encoder(fam):
    # Real SD configs: bos 0, eos 2, pad 1 (legacy values; pooled output is then taken at argmax(ids)).
    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=TEXT_WIDTH, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, layer_norm_eps=1e-5,
                         projection_dim=TEXT_WIDTH, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                         attention_dropout=0.0, dropout=0.0, initializer_factor=1.0, initializer_range=0.02,
                         **fam["text"])
    return CLIPTextModel(cfg).eval()


def build_unet(fam):
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
        freq_shift=0, down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, block_out_channels=(16, 32, 64, 64),
        layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1, act_fn="silu", norm_num_groups=8,
        norm_eps=1e-5, cross_attention_dim=TEXT_WIDTH, **fam["unet"]).eval()


def build_vae(fam):
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(16, 32, 32, 32), layers_per_block=2,
        act_fn="silu", latent_channels=4, norm_num_groups=8, sample_size=64, scaling_factor=0.18215).eval()


def perturb_norms(module, gen):
    """Default init leaves every norm at weight 1 / bias 0; randomise them so a swapped weight/bias shows."""
    for m in module.modules():
        if isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)) and m.weight is not None:
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


def to_half(path, keys):
    sd = load_file(path)
    for k in (keys if keys is not None else list(sd)):
        assert torch.equal(sd[k].half().float(), sd[k]), k
        sd[k] = sd[k].half()
    save_file(sd, path, metadata={"format": "pt"})


def make_models(fam):
    out = os.path.join(FIXTURES, "models", fam["model"])
    seed = fam["seed"]
    torch.manual_seed(seed)
    text_encoder = build_text_encoder(fam)
    torch.manual_seed(seed + 1)
    unet = build_unet(fam)
    torch.manual_seed(seed + 2)
    vae = build_vae(fam)
    gen = torch.Generator().manual_seed(seed + 3)
    for m in (text_encoder, unet, vae):
        perturb_norms(m, gen)
        with torch.no_grad():  # every weight representable in fp16, so the token embedding can be stored F16
            for p in m.parameters():
                p.copy_(p.half().float())
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=build_tokenizer(fam), unet=unet,
                                   scheduler=SCHEDULER_CLASSES[fam["scheduler"]["_class_name"]](),
                                   safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(fam["scheduler"], f, indent=2)
    # Size budget: the U-Net and the token embedding (49408 x 32) are stored F16 (their values are fp16-exact, see
    # above, so the oracle below, which loads them back into F32 modules, computes with the same numbers);
    # the VAE and the rest of the text encoder stay F32, so both storage types are exercised.
    to_half(os.path.join(out, "text_encoder", "model.safetensors"), ["text_model.embeddings.token_embedding.weight"])
    to_half(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors"), None)
    return out


def load_pipe(path):
    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    for m in (pipe.text_encoder, pipe.unet, pipe.vae):
        for p in m.parameters():
            assert p.dtype == torch.float32
    # hidiffusion needs a string _name_or_path (a fixture model has its folder path)
    return pipe


# --------------------------------------------------------------------------------------------------- stages

def f32(t):
    return t.detach().to(torch.float32).contiguous().cpu()


def check(name, t):
    t = t.float()
    assert torch.isfinite(t).all(), f"{name}: non-finite"
    std = t.std().item()
    print(f"    {name:40s} shape {list(t.shape)} std {std:.4g} maxabs {t.abs().max().item():.4g}")
    assert 1e-3 < std < 1e3, f"{name}: degenerate std {std}"


def stage_tokenizer(pipe):
    cases = []
    for text in PROMPTS:
        ids = pipe.tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids
        assert len(ids) == 77
        cases.append({"text": text, "ids": ids})
    return cases


@torch.no_grad()
def stage_text_encoder(pipe, tok_cases):
    tensors = {}
    for i, c in enumerate(tok_cases):
        out = pipe.text_encoder(torch.tensor([c["ids"]]))
        tensors[f"{i}.last_hidden_state"] = f32(out.last_hidden_state)
        tensors[f"{i}.pooled"] = f32(out.pooler_output)
        check(f"text_encoder {i}.last_hidden_state", out.last_hidden_state)
    return tensors, [{"text": c["text"], "ids": c["ids"]} for c in tok_cases]


UNET_CASES = [  # name, batch, latent h, w, timestep
    ("b1_8x8_t999", 1, 8, 8, 999),
    ("b2_8x8_t1", 2, 8, 8, 1),
    ("b1_8x12_t500", 1, 8, 12, 500),     # 12 is not a multiple of 8: up-samplers take the skip's size
    ("b2_16x8_t250", 2, 16, 8, 250),
    ("b1_8x8_t333.7", 1, 8, 8, 333.7),   # fractional timestep (Euler with Karras sigmas feeds these)
]


@torch.no_grad()
def stage_unet(pipe, seed):
    g = torch.Generator().manual_seed(seed)
    tensors, cases = {}, []
    for name, b, h, w, t in UNET_CASES:
        sample = torch.randn((b, 4, h, w), generator=g)
        ehs = torch.randn((b, 77, TEXT_WIDTH), generator=g)
        ts = torch.tensor(t, dtype=torch.float32 if isinstance(t, float) else torch.int64)
        out = pipe.unet(sample, ts, encoder_hidden_states=ehs).sample
        check(f"unet {name}", out)
        tensors.update({f"{name}.sample": f32(sample), f"{name}.encoder_hidden_states": f32(ehs),
                        f"{name}.out": f32(out)})
        cases.append({"name": name, "timestep": t, "timestep_dtype": "float32" if isinstance(t, float) else "int64"})
    return tensors, cases


@torch.no_grad()
def stage_vae(pipe, seed):
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for prefix, (h, w) in (("decode", (8, 8)), ("decode_8x12", (8, 12))):
        z = torch.randn((1, 4, h, w), generator=g) / pipe.vae.config.scaling_factor
        out = pipe.vae.decode(z).sample
        check(f"vae {prefix}.out", out)
        tensors[f"{prefix}.in"], tensors[f"{prefix}.out"] = f32(z), f32(out)
    for prefix, (h, w) in (("encode", (64, 64)), ("encode_64x96", (64, 96))):
        x = torch.rand((1, 3, h, w), generator=g) * 2 - 1
        dist = pipe.vae.encode(x).latent_dist
        check(f"vae {prefix}.mean", dist.mean)
        tensors.update({f"{prefix}.in": f32(x), f"{prefix}.mean": f32(dist.mean), f"{prefix}.logvar": f32(dist.logvar)})
    return tensors


def init_image(path, width, height):
    """Deterministic synthetic RGB picture: smooth gradients, a disc and a stripe pattern."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / width * 2 * np.pi)
    gch = 255.0 * y / (height - 1)
    disc = ((x - width * 0.6) ** 2 + (y - height * 0.4) ** 2) < (min(width, height) * 0.25) ** 2
    b = np.where(disc, 230.0, 40.0 + 30.0 * ((x.astype(int) // 4 + y.astype(int) // 4) % 2))
    img = np.stack([r, gch, b], axis=-1).round().clip(0, 255).astype(np.uint8)
    Image.fromarray(img, "RGB").save(path)
    return Image.open(path).convert("RGB")


def make_scheduler(pipe, name, base_config):
    cls, extra = SCHEDULERS[name]
    return cls.from_config(base_config, **extra)


def run_cases(fam):
    d = fam["default_scheduler"]
    runs = []
    for i, s in enumerate(SCHEDULERS):
        runs.append(dict(name=f"txt2img_{s}", prompt="a photo of a cat", negative_prompt=NEGATIVE,
                         width=64, height=64, steps=8, guidance=7.5, seed=100 + i, scheduler=s))
    runs.append(dict(name=f"txt2img_{d}_96x64", prompt="a red house by the lake, oil painting",
                     negative_prompt=NEGATIVE, width=96, height=64, steps=8, guidance=7.5, seed=200, scheduler=d))
    runs.append(dict(name=f"img2img_{d}", prompt="a watercolor landscape", negative_prompt=NEGATIVE,
                     width=64, height=64, steps=10, guidance=7.5, seed=300, scheduler=d,
                     init_image="init.png", strength=0.6))
    runs.append(dict(name="img2img_euler-a", prompt="a watercolor landscape", negative_prompt=NEGATIVE,
                     width=64, height=64, steps=10, guidance=7.5, seed=301, scheduler="euler-a",
                     init_image="init.png", strength=0.6))
    return runs


@torch.no_grad()
def stage_runs(pipe, fam, outdir):
    original = pipe.scheduler
    base_config = pipe.scheduler.config
    init = init_image(os.path.join(outdir, "init.png"), 64, 64)
    img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
    img2img.set_progress_bar_config(disable=True)
    tensors, cases = {}, []
    for run in run_cases(fam):
        sched = make_scheduler(pipe, run["scheduler"], base_config)
        seen = {"t": []}

        def on_step(p, i, t, kw):
            seen["t"].append(float(t))
            seen["latents"] = kw["latents"].clone()
            return kw

        gen = torch.Generator("cpu").manual_seed(run["seed"])
        common = dict(prompt=run["prompt"], negative_prompt=run["negative_prompt"],
                      num_inference_steps=run["steps"], guidance_scale=run["guidance"], generator=gen,
                      callback_on_step_end=on_step, output_type="pil")
        if "init_image" in run:
            img2img.scheduler = sched
            image = img2img(image=init, strength=run["strength"], **common).images[0]
        else:
            pipe.scheduler = sched
            image = pipe(width=run["width"], height=run["height"], **common).images[0]
        latents = seen["latents"]
        arr = torch.from_numpy(np.asarray(image).astype(np.float32))
        assert arr.shape == (run["height"], run["width"], 3)
        check(f"run {run['name']}.latents", latents)
        print(f"    {'':40s} image mean {arr.mean():.1f} std {arr.std():.1f}")
        image.save(os.path.join(outdir, f"{run['name']}.png"))
        tensors[f"{run['name']}.latents"] = f32(latents)
        tensors[f"{run['name']}.image"] = f32(arr)
        run = dict(run)
        cfg = {k: v for k, v in sched.config.items() if not k.startswith("_")}
        run.update(scheduler_class=type(sched).__name__, scheduler_config=cfg, unet_timesteps=seen["t"],
                   init_noise_sigma=float(sched.init_noise_sigma))
        cases.append(run)
    pipe.scheduler = original
    return tensors, cases


def check_hidiffusion_detection(pipe):
    """hidiffusion recognises an unknown model by its module names (a superset of SD 1.5's)."""
    import hidiffusion.hidiffusion as hd
    keys = {k for k, _ in pipe.unet.named_modules()}
    ok = set(hd.sd15_module_key) < keys
    missing = sorted(set(hd.sd15_module_key) - keys)[:5]
    print(f"    hidiffusion sd15 module-key detection: {'PASS' if ok else 'FAIL'} {missing}")
    assert ok


def make_family(name, only):
    fam = FAMILIES[name]
    outdir = os.path.join(FIXTURES, fam["model"])
    os.makedirs(outdir, exist_ok=True)
    print(f"== {fam['model']}")
    path = make_models(fam)
    pipe = load_pipe(path)
    check_hidiffusion_detection(pipe)
    cases_path = os.path.join(outdir, "cases.json")
    cases = json.load(open(cases_path)) if os.path.exists(cases_path) else {}
    cases.update({"model": f"models/{fam['model']}",
                  "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                               "transformers": transformers.__version__}})
    if not only or "tokenizer" in only or "text_encoder" in only:
        tok = pipe.tokenizer
        cases["tokenizer_config"] = {
            "pad_token": tok.pad_token, "pad_id": tok.pad_token_id, "max_length": tok.model_max_length,
            "ftfy": tok.fix_text is not None,
            "split_special_tokens": sorted(str(t) for t in tok.added_tokens_encoder)}
        cases["tokenizer"] = stage_tokenizer(pipe)
        te, cases["text_encoder"] = stage_text_encoder(pipe, cases["tokenizer"])
        save_file(te, os.path.join(outdir, "text_encoder.safetensors"))
    if not only or "unet" in only:
        un, cases["unet"] = stage_unet(pipe, fam["seed"] + 10)
        save_file(un, os.path.join(outdir, "unet.safetensors"))
    if not only or "vae" in only:
        save_file(stage_vae(pipe, fam["seed"] + 20), os.path.join(outdir, "vae.safetensors"))
    if not only or "runs" in only:
        rt, cases["runs"] = stage_runs(pipe, fam, outdir)
        save_file(rt, os.path.join(outdir, "runs.safetensors"))
    with open(cases_path, "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="all", choices=["sd15", "sd21", "all"])
    p.add_argument("--only", nargs="*", choices=["tokenizer", "text_encoder", "unet", "vae", "runs"],
                   help="regenerate only these stages (the models are always rebuilt, deterministically)")
    args = p.parse_args()
    torch.use_deterministic_algorithms(True)
    for name in (["sd15", "sd21"] if args.family == "all" else [args.family]):
        make_family(name, args.only)


if __name__ == "__main__":
    main()
