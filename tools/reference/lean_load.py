"""Loads a diffusers model folder with one copy of its weights in memory, for the PyTorch benchmarks.

Without `accelerate` (which the venv must not have, see README.md) diffusers' `from_pretrained` builds the model with
random weights and then copies a second, whole state dict into it: a peak of twice the weights (~21 GB for SDXL's
F32 U-Net), which is what a benchmark's peak RSS would then report. Here the model is built on the meta device and
each tensor is read from the safetensors file(s), converted to `dtype` and assigned in place, so the peak is the
weights once (in `dtype`) plus one tensor; the modules, their attention processors and the result are the same as
`from_pretrained` gives.
"""
import json
import os

import torch
from safetensors import safe_open


def weight_files(folder):
    """The folder's safetensors weights: one file, or the shards its index lists."""
    single = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    if os.path.exists(single):
        return [single]
    index = single + ".index.json"
    if os.path.exists(index):
        shards = sorted(set(json.load(open(index))["weight_map"].values()))
        return [os.path.join(folder, s) for s in shards]
    raise SystemExit(f"{folder}: no diffusion_pytorch_model.safetensors (or .index.json); write the model with "
                     f"tools/reference/make_fullsize_pipeline.py, or give a diffusers folder saved as safetensors")


def load_diffusers_model(cls, folder, dtype=torch.float32):
    """`cls.from_pretrained(folder)` with the weights cast to `dtype` as they are read, in eval mode."""
    config = cls.load_config(folder)
    with torch.device("meta"):
        model = cls.from_config(config)
    state = {}
    for path in weight_files(folder):
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                state[name] = f.get_tensor(name).to(dtype)
    missing = set(model.state_dict()) - set(state)
    unexpected = set(state) - set(model.state_dict())
    if missing or unexpected:
        raise SystemExit(f"{folder}: the weights do not fit {cls.__name__}'s config: missing "
                         f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]} (a config and weights from "
                         f"different models?)")
    model.load_state_dict(state, strict=True, assign=True)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise SystemExit(f"{folder}: {cls.__name__} has tensors outside its state dict ({left[:5]}); "
                         f"load it with from_pretrained instead")
    model.register_to_config(_name_or_path=folder)
    return model.eval()
