#!/usr/bin/env python3
"""Tiny SDXL base / SDXL-Turbo pipelines with random weights, and the oracle fixtures the Swift tests assert against.

Run in the pinned venv (see README.md):  python tools/reference/make_sdxl_fixtures.py [--only STAGE ...]
Full size (opt-in, outside the repo, ~11 GB of RAM, 5.2 GB of disk):
    nice -n 10 python tools/reference/make_sdxl_fixtures.py --fullsize /work/fullsize/sdxl [--timing]

Writes (contract: tools/reference/FIXTURES.md, section "SDXL")
  Tests/Fixtures/models/sdxl-tiny/          diffusers StableDiffusionXLPipeline folder (save_pretrained, safetensors)
  Tests/Fixtures/models/sdxl-turbo-tiny/    the same weights (symlinked components) with SDXL-Turbo's scheduler
  Tests/Fixtures/sdxl-tiny/{cases.json,text_encoder,conditioning,unet,vae,runs}.safetensors, <run>.png
  Tests/Fixtures/sdxl-turbo-tiny/{cases.json,conditioning,runs}.safetensors, <run>.png
Everything is computed from the pipelines as reloaded from disk, so the fixtures describe exactly the committed files.

The tiny models keep SDXL's layout: U-Net DownBlock2D + CrossAttnDownBlock2D x2 (up mirrored), 2 resnets per block,
transformer_layers_per_block (1, 2, 10), a channel change at every level (8, 16, 24; SDXL: 320, 640, 1280), a
uniform head width (8; SDXL: 64) with heads (1, 2, 3), linear proj_in/out, `text_time` added conditioning
(addition_time_embed_dim 8, projection input 16 + 6 * 8), cross-attention width 8 + 16 = the two text encoders'
widths concatenated. Text encoder 1 is a CLIP-L-like CLIPTextModel (quick_gelu, pad "<|endoftext|>"), text encoder 2
an OpenCLIP-bigG-like CLIPTextModelWithProjection (gelu, projection_dim = hidden_size as bigG has, pad "!"); both
keep the real 49408-token vocabulary and SD's legacy eos_token_id 2. VAE: 4 levels (f = 8), scaling_factor 0.13025,
force_upcast. Scheduler configs are the real checkpoints' (stabilityai/stable-diffusion-xl-base-1.0,
stabilityai/sdxl-turbo). Storage: U-Net, VAE and token embeddings F16 (all weights are fp16-exact, so the F32 oracle
computes with the stored numbers); the rest of the text encoders F32.
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import diffusers
import transformers
from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
CLIP_VOCAB = os.path.join(REPO, "Sources", "HiDiffModels", "Resources", "clip")
BASE = "sdxl-tiny"
TURBO = "sdxl-turbo-tiny"

TE1_WIDTH, TE2_WIDTH = 8, 16
CROSS = TE1_WIDTH + TE2_WIDTH
TIME_EMBED = 8

# scheduler/scheduler_config.json as the real checkpoints ship them.
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    "use_karras_sigmas": False}
TURBO_SCHEDULER = dict(SDXL_SCHEDULER, _class_name="EulerAncestralDiscreteScheduler",
                       _diffusers_version="0.24.0.dev0", timestep_spacing="trailing")

SCHEDULERS = {
    "euler": (EulerDiscreteScheduler, {}),
    "euler-a": (EulerAncestralDiscreteScheduler, {}),
    "dpm++2m": (DPMSolverMultistepScheduler, {}),
}

PROMPTS = [
    "a photo of a cat",
    "",
    "A Photo Of A CAT!! (masterpiece:1.2), don't stop; it's 3.14 o'clock",
    "hello!world !! wow!",  # tokenizer 2 pads with "!", a special token split out before BPE (id 0)
    " ".join(["cat"] * 76),  # over-long: truncated to 75 + EOS
]
NEGATIVE = "blurry, low quality"


# --------------------------------------------------------------------------------------------------- models

def build_tokenizer(pad_token):
    tok = CLIPTokenizer(os.path.join(CLIP_VOCAB, "vocab.json"), os.path.join(CLIP_VOCAB, "merges.txt"),
                        pad_token=pad_token, model_max_length=77)
    assert tok.fix_text is None, "ftfy is importable: the venv oracle must run CLIPTokenizer without ftfy"
    return tok


def text_config(width, act, architectures):
    # Real SDXL configs: bos 0, eos 2, pad 1 (legacy values; the pooled output is then taken at argmax(ids)).
    return CLIPTextConfig(vocab_size=49408, hidden_size=width, intermediate_size=4 * width, num_hidden_layers=3,
                          num_attention_heads=2, max_position_embeddings=77, layer_norm_eps=1e-5,
                          projection_dim=width, bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_act=act,
                          attention_dropout=0.0, dropout=0.0, initializer_factor=1.0, initializer_range=0.02,
                          architectures=architectures)


def build_unet():
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), block_out_channels=(8, 16, 24),
        layers_per_block=2, transformer_layers_per_block=(1, 2, 10), attention_head_dim=(1, 2, 3),
        use_linear_projection=True, cross_attention_dim=CROSS, addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED, projection_class_embeddings_input_dim=TE2_WIDTH + 6 * TIME_EMBED,
        downsample_padding=1, mid_block_scale_factor=1, norm_num_groups=8, norm_eps=1e-5, act_fn="silu",
        upcast_attention=False).eval()


def build_vae():
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(16, 32, 32, 32), layers_per_block=2,
        act_fn="silu", latent_channels=4, norm_num_groups=8, sample_size=64, scaling_factor=0.13025,
        force_upcast=True).eval()


def perturb_norms(module, gen):
    """Default init leaves every norm at weight 1 / bias 0; randomise them so a swapped weight/bias shows."""
    for m in module.modules():
        if isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)) and m.weight is not None:
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


def to_half(path, keys=None):
    sd = load_file(path)
    for k in (keys if keys is not None else list(sd)):
        assert torch.equal(sd[k].half().float(), sd[k]), k
        sd[k] = sd[k].half()
    save_file(sd, path, metadata={"format": "pt"})


def link(target, name):
    """Replaces `name` with a relative symlink to `target` (both absolute paths)."""
    if os.path.islink(name) or os.path.isfile(name):
        os.remove(name)
    elif os.path.isdir(name):
        shutil.rmtree(name)
    os.symlink(os.path.relpath(target, os.path.dirname(name)), name)


def share_vocabulary(tokenizer_dir):
    """The tokenizer folders' vocab.json / merges.txt become symlinks to the bundled CLIP vocabulary (same tokens,
    other JSON formatting), which keeps 2 x 1.6 MB out of the fixtures."""
    for name in ("vocab.json", "merges.txt"):
        path = os.path.join(tokenizer_dir, name)
        if name == "vocab.json":
            assert json.load(open(path)) == json.load(open(os.path.join(CLIP_VOCAB, name))), path
        else:
            assert open(path, "rb").read() == open(os.path.join(CLIP_VOCAB, name), "rb").read(), path
        link(os.path.join(CLIP_VOCAB, name), path)


def make_models():
    out = os.path.join(FIXTURES, "models", BASE)
    seed = 5000
    torch.manual_seed(seed)
    te1 = CLIPTextModel(text_config(TE1_WIDTH, "quick_gelu", ["CLIPTextModel"])).eval()
    torch.manual_seed(seed + 1)
    te2 = CLIPTextModelWithProjection(text_config(TE2_WIDTH, "gelu", ["CLIPTextModelWithProjection"])).eval()
    torch.manual_seed(seed + 2)
    unet = build_unet()
    torch.manual_seed(seed + 3)
    vae = build_vae()
    gen = torch.Generator().manual_seed(seed + 4)
    for m in (te1, te2, unet, vae):
        perturb_norms(m, gen)
        with torch.no_grad():  # every weight fp16-exact, so storing F16 changes nothing
            for p in m.parameters():
                p.copy_(p.half().float())
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=build_tokenizer("<|endoftext|>"),
        tokenizer_2=build_tokenizer("!"), unet=unet, scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
        force_zeros_for_empty_prompt=True, add_watermarker=False)
    if os.path.isdir(out):
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(SDXL_SCHEDULER, f, indent=2)
    for te in ("text_encoder", "text_encoder_2"):
        to_half(os.path.join(out, te, "model.safetensors"), ["text_model.embeddings.token_embedding.weight"])
    to_half(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors"))
    to_half(os.path.join(out, "vae", "diffusion_pytorch_model.safetensors"))
    for tok in ("tokenizer", "tokenizer_2"):
        share_vocabulary(os.path.join(out, tok))

    # SDXL-Turbo: the same architecture; only the scheduler (Euler ancestral, trailing) and the name differ.
    turbo = os.path.join(FIXTURES, "models", TURBO)
    if os.path.isdir(turbo):
        shutil.rmtree(turbo)
    os.makedirs(os.path.join(turbo, "scheduler"))
    for comp in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"):
        link(os.path.join(out, comp), os.path.join(turbo, comp))
    shutil.copy(os.path.join(out, "model_index.json"), os.path.join(turbo, "model_index.json"))
    index = json.load(open(os.path.join(turbo, "model_index.json")))
    index["scheduler"] = ["diffusers", "EulerAncestralDiscreteScheduler"]
    json.dump(index, open(os.path.join(turbo, "model_index.json"), "w"), indent=2)
    with open(os.path.join(turbo, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(TURBO_SCHEDULER, f, indent=2)
    return out, turbo


def load_pipe(path, name_or_path):
    pipe = StableDiffusionXLPipeline.from_pretrained(path, add_watermarker=False)
    pipe.set_progress_bar_config(disable=True)
    for m in (pipe.text_encoder, pipe.text_encoder_2, pipe.unet, pipe.vae):
        for p in m.parameters():
            assert p.dtype == torch.float32
    assert pipe.watermark is None and pipe.config.force_zeros_for_empty_prompt
    # hidiffusion recognises SDXL-Turbo only by this exact name.
    pipe.register_to_config(_name_or_path=name_or_path)
    return pipe


# --------------------------------------------------------------------------------------------------- stages

def f32(t):
    return t.detach().to(torch.float32).contiguous().cpu()


def check(name, t, degenerate_ok=False):
    t = t.float()
    assert torch.isfinite(t).all(), f"{name}: non-finite"
    std = t.std().item() if t.numel() > 1 else 1.0
    print(f"    {name:44s} shape {list(t.shape)} std {std:.4g} maxabs {t.abs().max().item():.4g}")
    assert degenerate_ok or 1e-3 < std < 1e3, f"{name}: degenerate std {std}"


@torch.no_grad()
def stage_text_encoders(pipe):
    tensors, cases = {}, []
    for i, text in enumerate(PROMPTS):
        entry = {"text": text}
        for k, (tok, te) in enumerate(((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2))):
            ids = tok(text, padding="max_length", max_length=77, truncation=True).input_ids
            assert len(ids) == 77
            entry[f"ids_{k + 1}"] = ids
            out = te(torch.tensor([ids]), output_hidden_states=True)
            tensors[f"{i}.te{k + 1}.penultimate"] = f32(out.hidden_states[-2])
            tensors[f"{i}.te{k + 1}.last_hidden_state"] = f32(out.last_hidden_state)
            check(f"text_encoder {i}.te{k + 1}.penultimate", out.hidden_states[-2])
            if k == 1:
                tensors[f"{i}.te2.text_embeds"] = f32(out.text_embeds)
            else:
                tensors[f"{i}.te1.pooled"] = f32(out.pooler_output)
        cases.append(entry)
    return tensors, cases


CONDITIONING_CASES = [  # name, prompt, prompt_2, negative, negative_2, guidance, width, height
    ("cfg_negative", "a photo of a cat", None, NEGATIVE, None, 5.0, 64, 64),
    ("cfg_empty_negative", "a photo of a cat", None, "", None, 5.0, 64, 96),   # force_zeros_for_empty_prompt
    ("cfg_prompt2", "a photo of a cat", "oil painting, impressionist", NEGATIVE, "photo, sharp", 7.0, 96, 64),
    ("cfg_empty_negative_with_negative2", "a dog", None, "", "ugly", 5.0, 64, 64),  # zeros: negative_2 unused
    ("no_cfg", "a red house by the lake", "watercolor", NEGATIVE, None, 1.0, 64, 64),  # no unconditional batch
    ("no_cfg_zero", "a red house", None, "", None, 0.0, 128, 64),
]


def run_kwargs(prompt, prompt_2, negative, negative_2):
    """An empty negative prompt is passed as None: that is what `force_zeros_for_empty_prompt` keys on, and what a
    diffusers user gets without a negative prompt (hidiff's request has "" for "none")."""
    return dict(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative or None, negative_prompt_2=negative_2)


@torch.no_grad()
def stage_conditioning(pipe, cases_spec):
    """What the pipeline feeds the U-Net (captured with a forward pre-hook on a 1-step run)."""
    seen = {}

    def hook(module, args, kwargs):
        seen["context"] = kwargs["encoder_hidden_states"].clone()
        seen["text_embeds"] = kwargs["added_cond_kwargs"]["text_embeds"].clone()
        seen["time_ids"] = kwargs["added_cond_kwargs"]["time_ids"].clone()

    handle = pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
    tensors, cases = {}, []
    try:
        for name, prompt, prompt_2, negative, negative_2, guidance, w, h in cases_spec:
            seen.clear()
            pipe(**run_kwargs(prompt, prompt_2, negative, negative_2), guidance_scale=guidance, width=w, height=h,
                 num_inference_steps=1, generator=torch.Generator().manual_seed(0), output_type="latent")
            for k in ("context", "text_embeds", "time_ids"):
                tensors[f"{name}.{k}"] = f32(seen[k])
            check(f"conditioning {name}.context", seen["context"])
            print(f"    {'':44s} time_ids {seen['time_ids'].tolist()}")
            cases.append({"name": name, "prompt": prompt, "prompt_2": prompt_2, "negative_prompt": negative,
                          "negative_prompt_2": negative_2, "guidance": guidance, "width": w, "height": h,
                          "batch": int(seen["context"].shape[0])})
    finally:
        handle.remove()
    return tensors, cases


UNET_CASES = [  # name, batch, latent h, w, timestep, time_ids per sample
    ("b2_8x12_t999", 2, 8, 12, 999, [[64, 96, 0, 0, 64, 96], [1024, 1024, 0, 0, 1024, 1024]]),
    ("b1_8x8_t500", 1, 8, 8, 500, [[512, 768, 16, 32, 64, 64]]),
    ("b2_16x8_t333.7", 2, 16, 8, 333.7, [[128, 64, 0, 0, 128, 64], [128, 64, 0, 0, 128, 64]]),
]


@torch.no_grad()
def stage_unet(pipe, seed):
    g = torch.Generator().manual_seed(seed)
    tensors, cases = {}, []
    for name, b, h, w, t, ids in UNET_CASES:
        sample = torch.randn((b, 4, h, w), generator=g)
        ehs = torch.randn((b, 77, CROSS), generator=g)
        text_embeds = torch.randn((b, TE2_WIDTH), generator=g)
        time_ids = torch.tensor(ids, dtype=torch.float32)
        ts = torch.tensor(t, dtype=torch.float32 if isinstance(t, float) else torch.int64)
        out = pipe.unet(sample, ts, encoder_hidden_states=ehs,
                        added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
        check(f"unet {name}", out)
        tensors.update({f"{name}.sample": f32(sample), f"{name}.encoder_hidden_states": f32(ehs),
                        f"{name}.text_embeds": f32(text_embeds), f"{name}.time_ids": f32(time_ids),
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
    x = torch.rand((1, 3, 64, 64), generator=g) * 2 - 1
    dist = pipe.vae.encode(x).latent_dist
    check("vae encode.mean", dist.mean)
    tensors.update({"encode.in": f32(x), "encode.mean": f32(dist.mean), "encode.logvar": f32(dist.logvar)})
    return tensors


def base_runs():
    runs = []
    common = dict(prompt="a photo of a cat", prompt_2=None, negative_prompt=NEGATIVE, negative_prompt_2=None,
                  width=64, height=64, steps=8, guidance=5.0)
    runs.append(dict(common, name="txt2img_euler", seed=100, scheduler="euler", default_scheduler=True))
    runs.append(dict(common, name="txt2img_euler_empty-negative", negative_prompt="", seed=101, scheduler="euler",
                     default_scheduler=True))
    runs.append(dict(common, name="txt2img_dpm++2m", seed=102, scheduler="dpm++2m", default_scheduler=False))
    runs.append(dict(common, name="txt2img_dpm++2m_empty-negative", negative_prompt="", seed=103,
                     scheduler="dpm++2m", default_scheduler=False))
    runs.append(dict(common, name="txt2img_euler_96x64", prompt="a red house by the lake, oil painting", width=96,
                     height=64, seed=104, scheduler="euler", default_scheduler=True))
    runs.append(dict(common, name="txt2img_euler_prompt2", prompt_2="watercolor, soft light",
                     negative_prompt_2="photo", seed=105, scheduler="euler", default_scheduler=True))
    runs.append(dict(common, name="txt2img_euler_cfg1", guidance=1.0, seed=106, scheduler="euler",
                     default_scheduler=True))
    return runs


def turbo_runs():
    common = dict(prompt="a photo of a cat", prompt_2=None, negative_prompt="", negative_prompt_2=None, width=64,
                  height=64, guidance=0.0, scheduler="euler-a", default_scheduler=True)
    return [dict(common, name="turbo_1step", steps=1, seed=200),
            dict(common, name="turbo_4steps", steps=4, seed=201),
            dict(common, name="turbo_4steps_64x96", prompt="a red house by the lake", width=64, height=96, steps=4,
                 seed=202)]


@torch.no_grad()
def stage_runs(pipe, runs, outdir):
    original = pipe.scheduler
    base_config = pipe.scheduler.config
    tensors, cases = {}, []
    for run in runs:
        cls, extra = SCHEDULERS[run["scheduler"]]
        sched = cls.from_config(base_config, **extra)
        if run["default_scheduler"]:
            assert type(sched) is type(original), (run["name"], type(original))
        seen = {"t": []}

        def on_step(p, i, t, kw):
            seen["t"].append(float(t))
            seen["latents"] = kw["latents"].clone()
            return kw

        pipe.scheduler = sched
        gen = torch.Generator("cpu").manual_seed(run["seed"])
        image = pipe(**run_kwargs(run["prompt"], run["prompt_2"], run["negative_prompt"], run["negative_prompt_2"]),
                     width=run["width"], height=run["height"], num_inference_steps=run["steps"],
                     guidance_scale=run["guidance"], generator=gen, callback_on_step_end=on_step,
                     output_type="pil").images[0]
        latents = seen["latents"]
        arr = torch.from_numpy(np.asarray(image).astype(np.float32))
        assert arr.shape == (run["height"], run["width"], 3)
        check(f"run {run['name']}.latents", latents)
        print(f"    {'':44s} image mean {arr.mean():.1f} std {arr.std():.1f}")
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
    """hidiffusion recognises SDXL by module names (transformer_layers_per_block (1, 2, 10))."""
    import hidiffusion.hidiffusion as hd
    keys = {k for k, _ in pipe.unet.named_modules()}
    ok = set(hd.sdxl_module_key) <= keys if hasattr(hd, "sdxl_module_key") else None
    print(f"    hidiffusion sdxl module-key detection: {ok}")
    assert ok is not False


def write_cases(outdir, model, extra):
    path = os.path.join(outdir, "cases.json")
    cases = json.load(open(path)) if os.path.exists(path) else {}
    cases.update({"model": f"models/{model}",
                  "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                               "transformers": transformers.__version__}})
    cases.update(extra)
    with open(path, "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)


def tokenizer_config(tok):
    return {"pad_token": tok.pad_token, "pad_id": tok.pad_token_id, "max_length": tok.model_max_length,
            "ftfy": tok.fix_text is not None, "split_special_tokens": sorted(str(t) for t in tok.added_tokens_encoder)}


# The real unet/config.json of stabilityai/stable-diffusion-xl-base-1.0 (2.57 B parameters).
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), block_out_channels=(320, 640, 1280),
    layers_per_block=2, transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
    use_linear_projection=True, cross_attention_dim=2048, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, downsample_padding=1, mid_block_scale_factor=1, norm_num_groups=32,
    norm_eps=1e-5, act_fn="silu", upcast_attention=False)


def timed(fn):
    import time
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = fn()
    return out, {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def fullsize(out_dir, timing, seed=1024):
    """The real SDXL U-Net with seeded random (fp16-exact) weights, stored F16 as a diffusers U-Net folder, one
    forward at a small latent (b1 32x32, 256 px) as the parity fixture, and optionally PyTorch CPU timings at the
    benchmark size (b2 128x128, 1024 px)."""
    import time
    os.makedirs(out_dir, exist_ok=True)
    unet_dir = os.path.join(out_dir, "unet")
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**SDXL_UNET).eval()
    with torch.no_grad():
        for prm in unet.parameters():
            prm.copy_(prm.half().float())
    params = sum(prm.numel() for prm in unet.parameters())
    print(f"sdxl: {params / 1e9:.3f} B parameters", flush=True)
    if not os.path.exists(os.path.join(unet_dir, "diffusion_pytorch_model.safetensors")):
        unet.half().save_pretrained(unet_dir, safe_serialization=True)
        unet.float()
    g = torch.Generator().manual_seed(seed + 1)
    sample = torch.randn((1, 4, 32, 32), generator=g)
    ehs = torch.randn((1, 77, 2048), generator=g)
    text_embeds = torch.randn((1, 1280), generator=g)
    time_ids = torch.tensor([[256.0, 256.0, 0.0, 0.0, 256.0, 256.0]])
    t = torch.tensor(500)
    out, dt = timed(lambda: unet(sample, t, encoder_hidden_states=ehs,
                                 added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample)
    check("fullsize unet b1 32x32", out)
    save_file({"sample": sample, "encoder_hidden_states": ehs, "text_embeds": text_embeds, "time_ids": time_ids,
               "out": out.contiguous()}, os.path.join(out_dir, "unet_forward.safetensors"))
    timings = {"b1_32x32": dt}
    if timing:
        x = torch.randn((2, 4, 128, 128), generator=g)
        e = torch.randn((2, 77, 2048), generator=g)
        te = torch.randn((2, 1280), generator=g)
        ids = torch.tensor([[1024.0, 1024.0, 0.0, 0.0, 1024.0, 1024.0]] * 2)
        _, dt = timed(lambda: unet(x, t, encoder_hidden_states=e,
                                   added_cond_kwargs={"text_embeds": te, "time_ids": ids}).sample)
        timings["b2_128x128"] = dt
        print(f"forward batch 2 latent 128x128: wall {dt['wall']:.1f} s, cpu {dt['cpu']:.1f} s", flush=True)
    import resource
    info = {"parameters": params, "seed": seed, "timestep": 500, "torch": torch.__version__,
            "diffusers": diffusers.__version__, "torch_threads": torch.get_num_threads(),
            "attention_processor": type(unet.attn_processors[next(iter(unet.attn_processors))]).__name__,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "load_average_at_end": os.getloadavg(), "forward_seconds": timings, "finished": time.time()}
    with open(os.path.join(out_dir, "fullsize.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fullsize", metavar="DIR", help="only the opt-in full-size U-Net check (writes DIR, not the repo)")
    p.add_argument("--timing", action="store_true", help="with --fullsize: also time b2 128x128 in PyTorch")
    p.add_argument("--only", nargs="*", choices=["text_encoder", "conditioning", "unet", "vae", "runs"],
                   help="regenerate only these stages (the models are always rebuilt, deterministically)")
    args = p.parse_args()
    if args.fullsize:
        return fullsize(args.fullsize, args.timing)
    only = set(args.only or [])
    torch.use_deterministic_algorithms(True)
    base_path, turbo_path = make_models()

    print(f"== {BASE}")
    outdir = os.path.join(FIXTURES, BASE)
    os.makedirs(outdir, exist_ok=True)
    pipe = load_pipe(base_path, "local/sdxl-tiny")
    check_hidiffusion_detection(pipe)
    extra = {"tokenizer_config": tokenizer_config(pipe.tokenizer),
             "tokenizer_2_config": tokenizer_config(pipe.tokenizer_2)}
    if not only or "text_encoder" in only:
        te, extra["text_encoder"] = stage_text_encoders(pipe)
        save_file(te, os.path.join(outdir, "text_encoder.safetensors"))
    if not only or "conditioning" in only:
        ct, extra["conditioning"] = stage_conditioning(pipe, CONDITIONING_CASES)
        save_file(ct, os.path.join(outdir, "conditioning.safetensors"))
    if not only or "unet" in only:
        un, extra["unet"] = stage_unet(pipe, 5010)
        save_file(un, os.path.join(outdir, "unet.safetensors"))
    if not only or "vae" in only:
        save_file(stage_vae(pipe, 5020), os.path.join(outdir, "vae.safetensors"))
    if not only or "runs" in only:
        rt, extra["runs"] = stage_runs(pipe, base_runs(), outdir)
        save_file(rt, os.path.join(outdir, "runs.safetensors"))
    write_cases(outdir, BASE, extra)

    print(f"== {TURBO}")
    outdir = os.path.join(FIXTURES, TURBO)
    os.makedirs(outdir, exist_ok=True)
    pipe = load_pipe(turbo_path, "stabilityai/sdxl-turbo")
    assert isinstance(pipe.scheduler, EulerAncestralDiscreteScheduler)
    extra = {}
    if not only or "conditioning" in only:
        ct, extra["conditioning"] = stage_conditioning(
            pipe, [("turbo_no_cfg", "a photo of a cat", None, "", None, 0.0, 64, 64)])
        save_file(ct, os.path.join(outdir, "conditioning.safetensors"))
    if not only or "runs" in only:
        rt, extra["runs"] = stage_runs(pipe, turbo_runs(), outdir)
        save_file(rt, os.path.join(outdir, "runs.safetensors"))
    write_cases(outdir, TURBO, extra)


if __name__ == "__main__":
    main()
