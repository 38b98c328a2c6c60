#!/usr/bin/env bash
# Train the hidiff "shapes" demo model from scratch, reproducibly (fixed seeds and step counts), and write
# the diffusers pipeline folder.
#
#   tools/train/train_all.sh [OUT_DIR] [WORK_DIR]
#     OUT_DIR  default models/shapes (relative to the repository root)
#     WORK_DIR default /tmp/hidiff-train (dataset and the intermediate VAE)
#
# Needs the pinned reference environment: torch 2.15.0, diffusers 0.29.2, transformers 4.44.2
# (PYTHON=/path/to/python to choose the interpreter). Uses 2 CPU threads (HIDIFF_TRAIN_THREADS=1 is faster on a busy machine). Step counts and sizes can be
# overridden through the environment (COUNT, VAE_STEPS, UNET_STEPS, SEED) for experiments; the committed
# model used the defaults below. Bit-exact results also need the same torch build and thread count.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/models/shapes}"
work="${2:-/tmp/hidiff-train}"
python="${PYTHON:-python3}"
count="${COUNT:-10000}"
vae_steps="${VAE_STEPS:-1000}"
unet_steps="${UNET_STEPS:-2000}"
seed="${SEED:-0}"
mkdir -p "$work" "$out"
cd "$here"
t0=$(date +%s)
"$python" make_data.py --count "$count" --seed "$seed" --out "$work/data.npz"
"$python" train_vae.py --data "$work/data.npz" --out "$work/vae" --steps "$vae_steps" --seed "$seed"
t1=$(date +%s)
"$python" train_unet.py --data "$work/data.npz" --vae "$work/vae" --out "$out" --steps "$unet_steps" --seed "$seed"
t2=$(date +%s)
echo "train_all: data+vae $((t1 - t0))s, unet $((t2 - t1))s, total $((t2 - t0))s -> $out"
