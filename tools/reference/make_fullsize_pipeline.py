#!/usr/bin/env python3
"""Full-size Stable Diffusion pipelines with seeded random weights, for whole-generation benchmarks.

Opt-in, writes outside the repo (no internet, no hub: the configs are the released ones, the weights random):

    nice -n 19 python tools/reference/make_fullsize_pipeline.py --family sd15 --out /work/fullsize/sd15-pipeline \
        --unet-from /work/fullsize/sd15/unet
    nice -n 19 python tools/reference/make_fullsize_pipeline.py --family sdxl --out /work/fullsize/sdxl-pipeline

Writes a diffusers pipeline folder that both `hidiff` and diffusers' `StableDiffusionPipeline` /
`StableDiffusionXLPipeline.from_pretrained` load:
  model_index.json                     as diffusers 0.29.2 saves it (no safety checker, no feature extractor)
  scheduler/scheduler_config.json      the released checkpoint's, verbatim (SD 1.5: PNDM; SDXL: Euler, leading)
  tokenizer[_2]/                       CLIPTokenizer on the bundled CLIP vocabulary (pad <|endoftext|>; SDXL's 2nd: !)
  text_encoder/                        CLIPTextModel, CLIP ViT-L/14's text config (768 wide, 12 layers)
  text_encoder_2/                      SDXL: CLIPTextModelWithProjection, OpenCLIP bigG's (1280 wide, 32 layers)
  vae/                                 AutoencoderKL, the released config (SDXL: scaling_factor 0.13025)
  unet/                                UNet2DConditionModel, the released config (SD 1.5: 0.86 B, SDXL: 2.57 B params)
every weight F32 safetensors. `--unet-from DIR` shares an existing U-Net folder's weights (make_fullsize.py's, or
another pipeline's unet/) after checking its config is the family's: a hard link (a symlink across file systems),
which saves 3.4 GB (SD 1.5) / 10.3 GB (SDXL) of disk.

Memory: the U-Net and the VAE are initialised and written one layer at a time (built on the meta device, each
layer's torch default initialisation, which is all diffusers applies), so RAM stays near the largest text encoder
(SD 1.5: ~0.6 GB; SDXL: ~3 GB for bigG) whatever the U-Net's size. Each file is written under a temporary name and
renamed when complete; a component whose files exist is kept (rerun after an interruption; `--force` rewrites).
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys
import time

import torch

import diffusers
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import CLIP_VOCAB, SD15_SCHEDULER  # noqa: E402
from make_fullsize import CONFIGS as SD_UNETS  # noqa: E402
from make_sdxl_fixtures import SDXL_SCHEDULER, SDXL_UNET  # noqa: E402
from make_single_file import CLIP_L, OPEN_CLIP_BIGG  # noqa: E402

# The released text encoder configs' other fields (openai/clip-vit-large-patch14; SDXL's text_encoder_2): legacy
# bos/eos/pad ids (the pooled output is taken at argmax(ids)), no dropout.
TEXT_COMMON = dict(layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1, attention_dropout=0.0,
                   dropout=0.0, initializer_factor=1.0, initializer_range=0.02)
# vae/config.json of runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-xl-base-1.0.
VAE_COMMON = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                  layers_per_block=2, act_fn="silu", latent_channels=4, norm_num_groups=32)

FAMILIES = {
    "sd15": dict(
        pipeline="StableDiffusionPipeline", unet=SD_UNETS["sd15"], scheduler=SD15_SCHEDULER,
        vae=dict(VAE_COMMON, sample_size=512, scaling_factor=0.18215),
        text=[("text_encoder", "tokenizer", CLIP_L, CLIPTextModel, "<|endoftext|>")],
        index=dict(requires_safety_checker=False, safety_checker=[None, None])),
    "sdxl": dict(
        pipeline="StableDiffusionXLPipeline", unet=SDXL_UNET, scheduler=SDXL_SCHEDULER,
        vae=dict(VAE_COMMON, sample_size=1024, scaling_factor=0.13025, force_upcast=True),
        text=[("text_encoder", "tokenizer", CLIP_L, CLIPTextModel, "<|endoftext|>"),
              ("text_encoder_2", "tokenizer_2", OPEN_CLIP_BIGG, CLIPTextModelWithProjection, "!")],
        index=dict(force_zeros_for_empty_prompt=True)),
}


# ------------------------------------------------------------------------------------------ safetensors writing

def write_safetensors(path, specs, tensors):
    """Writes F32 tensors one at a time: `specs` lists (name, shape) in file order (the header needs every offset
    up front), `tensors` yields (name, float32 tensor) in the same order. Peak memory: one tensor. The file appears
    under `path` only once it is complete."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0  # transformers refuses safetensors without "format"
    for name, shape in specs:
        size = 4 * math.prod(shape)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for (name, shape), (got, t) in zip(specs, tensors, strict=True):
            assert got == name and tuple(t.shape) == tuple(shape) and t.dtype == torch.float32, (name, got, t.shape)
            assert torch.isfinite(t).all(), f"{name}: non-finite weights"
            f.write(t.detach().contiguous().numpy().tobytes())
        assert f.tell() == 8 + len(raw) + offset
    os.replace(tmp, path)
    return offset


def layerwise(model, seed):
    """(specs, tensor stream) of a diffusers model built on the meta device: each layer is materialised, given its
    torch default initialisation (`reset_parameters`: what diffusers' models get when built normally), yielded and
    returned to the meta device, in module order, from one seeded stream."""
    modules = [(prefix, m) for prefix, m in model.named_modules() if list(m.parameters(recurse=False))]
    specs = [(f"{prefix}.{n}" if prefix else n, tuple(p.shape)) for prefix, m in modules
             for n, p in m.named_parameters(recurse=False)]
    assert sorted(n for n, _ in specs) == sorted(model.state_dict()), "a buffer or a shared weight: not handled"

    def stream():
        torch.manual_seed(seed)
        for prefix, m in modules:
            assert not list(m.buffers(recurse=False)), prefix
            m.to_empty(device="cpu", recurse=False)
            with torch.no_grad():
                m.reset_parameters()
            for n, p in m.named_parameters(recurse=False):
                yield (f"{prefix}.{n}" if prefix else n), p.data
            m.to_empty(device="meta", recurse=False)
    return specs, stream()


def done(path, force):
    return os.path.exists(path) and not force


# --------------------------------------------------------------------------------------------------- components

def write_diffusers_model(cls, config, out, seed, force):
    """unet/ or vae/: config.json + diffusion_pytorch_model.safetensors, layer by layer."""
    weights = os.path.join(out, "diffusion_pytorch_model.safetensors")
    if done(weights, force):
        print(f"  {out}: kept (exists)", flush=True)
        return
    os.makedirs(out, exist_ok=True)
    with torch.device("meta"):
        model = cls(**config)
    model.save_config(out)
    t0 = time.time()
    specs, stream = layerwise(model, seed)
    size = write_safetensors(weights, specs, stream)
    print(f"  {out}: {sum(math.prod(s) for _, s in specs) / 1e6:.1f} M parameters, "
          f"{size / 2**30:.2f} GiB in {time.time() - t0:.0f} s", flush=True)


def link_unet(source, family, out):
    """unet/ sharing an existing U-Net folder's weights (whose config must be the family's): config.json copied,
    the weights hard-linked (no disk used; a regular file to every reader), or symlinked across file systems."""
    config = json.load(open(os.path.join(source, "config.json")))
    for k, v in FAMILIES[family]["unet"].items():
        want = list(v) if isinstance(v, tuple) else v
        if config.get(k) != want:
            sys.exit(f"--unet-from {source}: {k} is {config.get(k)!r}, the {family} U-Net has {want!r} "
                     f"(give a {family} U-Net folder, or leave --unet-from out to write one)")
    weights = os.path.join(source, "diffusion_pytorch_model.safetensors")
    if not os.path.isfile(weights):
        sys.exit(f"--unet-from {source}: no diffusion_pytorch_model.safetensors in it")
    if os.path.islink(out):
        os.remove(out)
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(source, "config.json"), os.path.join(out, "config.json"))
    target = os.path.join(out, "diffusion_pytorch_model.safetensors")
    if os.path.lexists(target):
        os.remove(target)
    try:
        os.link(weights, target)
        how = "hard link to"
    except OSError:
        os.symlink(os.path.abspath(weights), target)
        how = "symlink to"
    print(f"  {out}: weights a {how} {os.path.abspath(weights)}", flush=True)


def write_text_encoder(cls, config, out, seed, force):
    """text_encoder[_2]/: config.json + model.safetensors, the model built whole (transformers' own
    initialisation; bigG is 2.8 GB in F32)."""
    weights = os.path.join(out, "model.safetensors")
    if done(weights, force):
        print(f"  {out}: kept (exists)", flush=True)
        return
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    cfg = CLIPTextConfig(**config, **TEXT_COMMON, architectures=[cls.__name__])
    model = cls(cfg).eval()
    cfg.torch_dtype = torch.float32
    cfg.save_pretrained(out)
    sd = model.state_dict()
    size = write_safetensors(weights, [(k, tuple(v.shape)) for k, v in sd.items()], iter(sd.items()))
    print(f"  {out}: {sum(v.numel() for v in sd.values()) / 1e6:.1f} M parameters, {size / 2**30:.2f} GiB",
          flush=True)


def write_tokenizer(out, pad_token):
    tok = CLIPTokenizer(os.path.join(CLIP_VOCAB, "vocab.json"), os.path.join(CLIP_VOCAB, "merges.txt"),
                        pad_token=pad_token, model_max_length=77, clean_up_tokenization_spaces=True)
    tok.save_pretrained(out)


def write_pipeline(family, out, unet_from, seed, force):
    spec = FAMILIES[family]
    os.makedirs(out, exist_ok=True)
    print(f"{family} pipeline -> {out}", flush=True)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(spec["scheduler"], f, indent=2)
    index = {"_class_name": spec["pipeline"], "_diffusers_version": diffusers.__version__,
             "feature_extractor": [None, None], "image_encoder": [None, None],
             "scheduler": ["diffusers", spec["scheduler"]["_class_name"]],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"], **spec["index"]}
    for i, (encoder, tokenizer, config, cls, pad) in enumerate(spec["text"]):
        index[encoder] = ["transformers", cls.__name__]
        index[tokenizer] = ["transformers", "CLIPTokenizer"]
        write_tokenizer(os.path.join(out, tokenizer), pad)
        write_text_encoder(cls, config, os.path.join(out, encoder), seed + 10 + i, force)
    write_diffusers_model(AutoencoderKL, spec["vae"], os.path.join(out, "vae"), seed + 20, force)
    unet_dir = os.path.join(out, "unet")
    if unet_from:
        link_unet(unet_from, family, unet_dir)
    else:
        if os.path.islink(unet_dir):
            os.remove(unet_dir)
        elif os.path.islink(os.path.join(unet_dir, "diffusion_pytorch_model.safetensors")):
            os.remove(os.path.join(unet_dir, "diffusion_pytorch_model.safetensors"))
        write_diffusers_model(UNet2DConditionModel, spec["unet"], unet_dir, seed + 30, force)
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(dict(sorted(index.items())), f, indent=2)
    total = 0
    for root, _, files in os.walk(out, followlinks=True):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in files)
    print(f"{out}: {total / 2**30:.2f} GiB (a U-Net shared with --unet-from counted in full)", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", required=True, choices=sorted(FAMILIES))
    p.add_argument("--out", required=True, help="the pipeline folder to write (outside the repo)")
    p.add_argument("--unet-from", metavar="DIR", help="share this U-Net folder's weights (hard link) instead of writing a U-Net")
    p.add_argument("--seed", type=int, default=1300)
    p.add_argument("--force", action="store_true", help="rewrite components whose files exist")
    args = p.parse_args()
    write_pipeline(args.family, args.out, args.unet_from, args.seed, args.force)


if __name__ == "__main__":
    main()
