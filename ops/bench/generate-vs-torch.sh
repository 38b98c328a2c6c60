#!/bin/sh
# hidiff's whole text-to-image generation against diffusers' on this machine (issue 13's benchmark).
#
# For each image size: diffusers' generation (tools/reference/bench_torch_generate.py), then `hidiff bench generate`,
# back to back and never at the same time: text encoder(s), every denoising step (guidance 7.5, so every U-Net call is
# batch 2), VAE decode, on a pipeline each tool loads once. Prints every JSON line, then a table with both medians,
# the ratio, CPU seconds, the phases and both peak RSS figures.
#
#   ops/bench/generate-vs-torch.sh [--model DIR] [--sizes "512 1024"] [--steps N] [--runs N] [--warmup N]
#                                  [--batch B] [--precision fp32|bf16] [--python PY] [--hidiff BIN] [--pairs N]
#
# Defaults: --model /work/fullsize/sd15-pipeline (tools/reference/make_fullsize_pipeline.py writes it: released
# configs, seeded random weights; /work/fullsize/sdxl-pipeline for SDXL, with --sizes 1024), --sizes "512 1024",
# --steps 20 (the folder's own scheduler: SD 1.5's PNDM makes 21 U-Net calls of 20 steps, SDXL's Euler 20),
# --runs 3 and --warmup 1 (whole generations; the phases reported are the median run's), --batch 1 (images per
# prompt: diffusers batches them in one call, hidiff generates them one after another), --python
# /work/venv/bin/python, --hidiff .build/release/hidiff (built first if missing), --precision fp32. With
# --precision bf16, diffusers runs twice (torch.autocast bfloat16 with float32 weights, then every component's
# weights in bfloat16) and hidiff runs `--precision bf16` (bfloat16 U-Net and VAE, float32 text encoders).
#
# --pairs N (default 1) repeats diffusers-then-hidiff N times per size, alternating, because this machine's speed
# can change by 2x within minutes and the two tools do not slow down alike: the tables then show every pair, and a
# line lists the pairs' ratios and their median (as `unet-vs-torch.sh --pairs`).
#
# Cost: every run is a whole generation. On 2 cores, SD 1.5 at 1024 px is minutes per generation per tool, so the
# defaults at "512 1024" take about an hour; SDXL at 1024 longer. Memory: diffusers holds the weights once
# (~4 GB SD 1.5, ~13 GB SDXL, F32) plus activations; hidiff's peak RSS counts its memory-mapped weight files too.
# Wall-clock medians are only meaningful on an otherwise idle machine; median_cpu_s degrades far less under load.
set -eu

MODEL=/work/fullsize/sd15-pipeline
SIZES="512 1024"
STEPS=20
RUNS=3
WARMUP=1
BATCH=1
PY=/work/venv/bin/python
HIDIFF=.build/release/hidiff
PRECISION=fp32
PAIRS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --hidiff) HIDIFF=$2; shift 2 ;;
        --precision) PRECISION=$2; shift 2 ;;
        --pairs) PAIRS=$2; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "generate-vs-torch.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PRECISION" in
    fp32|bf16) ;;
    *) echo "generate-vs-torch.sh: --precision must be fp32 or bf16 (got $PRECISION)" >&2; exit 2 ;;
esac
case "$PAIRS" in
    ''|*[!0-9]*|0) echo "generate-vs-torch.sh: --pairs must be a whole number of at least 1 (got $PAIRS)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.."
[ -f "$MODEL/model_index.json" ] || {
    echo "generate-vs-torch.sh: no pipeline folder at $MODEL (write one with tools/reference/make_fullsize_pipeline.py, see tools/reference/README.md)" >&2
    exit 1
}
if [ ! -x "$HIDIFF" ]; then
    swift build -c release --product hidiff
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
COMMON="--steps $STEPS --runs $RUNS --warmup $WARMUP --batch $BATCH"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for size in $SIZES; do
for pair in $(seq 1 "$PAIRS"); do
    # One pair keeps the file names (and the output) of a run without --pairs.
    tag=$size
    [ "$PAIRS" -gt 1 ] && tag=$size-$pair
    TORCH_PRECISION=fp32
    [ "$PRECISION" = bf16 ] && TORCH_PRECISION=bf16-autocast
    echo "== ${size}x${size}, $STEPS steps, pair $pair of $PAIRS: PyTorch ($TORCH_PRECISION)" >&2
    # shellcheck disable=SC2086
    "$PY" tools/reference/bench_torch_generate.py --model "$MODEL" -W "$size" -H "$size" $COMMON \
        --precision "$TORCH_PRECISION" | tee "$OUT/torch-$tag.json"
    if [ "$PRECISION" = bf16 ]; then
        echo "== ${size}x${size}, $STEPS steps: PyTorch, bfloat16 weights" >&2
        # shellcheck disable=SC2086
        "$PY" tools/reference/bench_torch_generate.py --model "$MODEL" -W "$size" -H "$size" $COMMON \
            --precision bf16 | tee "$OUT/torchw-$tag.json"
    fi
    echo "== ${size}x${size}, $STEPS steps: hidiff ($PRECISION)" >&2
    # shellcheck disable=SC2086
    "$HIDIFF" bench generate --model "$MODEL" -W "$size" -H "$size" $COMMON --precision "$PRECISION" \
        | tee "$OUT/hidiff-$tag.json"
done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$OUT" "$PRECISION" "$PAIRS" $SIZES <<'EOF'
import json, os, statistics, sys
out, precision, pairs, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
read = lambda name: json.load(open(f"{out}/{name}.json"))
# (image label, file tag) per size and pair; one pair: the size alone, as without --pairs.
runs = [(s, [(f"{s}x{s}", s)] if pairs == 1 else [(f"{s}x{s} #{p}", f"{s}-{p}") for p in range(1, pairs + 1)])
        for s in sizes]
h0 = read(f"hidiff-{runs[0][1][0][1]}")
w = 9 if pairs == 1 else 12  # the image column
print(f"\n{h0['model']} ({h0['family']}), {h0['steps']} steps ({h0['scheduler']}, {h0['unet_calls']} U-Net calls of "
      f"batch {h0['unet_batch']}), {h0['batch']} image(s) per run, precision {precision}; "
      f"hidiff kernels: {h0['kernels']}")
rows = [("torch", "torch-{}"), ("torch bf16 weights", "torchw-{}"), ("hidiff", "hidiff-{}")]
print(f"{'image':>{w}} {'tool':>18} {'median s':>9} {'min s':>8} {'cpu-s':>8} {'text+setup':>10} {'denoise':>9}"
      f" {'s/step':>7} {'vae':>7} {'peak MiB':>9}")
for s, tagged in runs:
    for image, tag in tagged:
        for label, name in rows:
            if not os.path.exists(f"{out}/{name.format(tag)}.json"):
                continue
            r = read(name.format(tag))
            p = r["phases"]
            print(f"{image:>{w}} {label:>18} {r['median_s']:9.2f} {r['min_s']:8.2f} {r['median_cpu_s']:8.1f}"
                  f" {p['text_encode_and_setup_s']:10.2f} {p['denoise_s']:9.2f} {p['step_median_s']:7.2f}"
                  f" {p['vae_decode_s']:7.2f} {r['peak_rss_bytes'] >> 20:9d}")
print(f"\n{'image':>{w}} {'torch/hidiff':>12} {'cpu-s ratio':>11} {'denoise ratio':>13} {'vae ratio':>9}")
for s, tagged in runs:
    ratios = []
    for image, tag in tagged:
        t, h = read(f"torch-{tag}"), read(f"hidiff-{tag}")
        tp, hp = t["phases"], h["phases"]
        ratios.append(t["median_s"] / h["median_s"])
        print(f"{image:>{w}} {ratios[-1]:12.2f} {t['median_cpu_s'] / h['median_cpu_s']:11.2f}"
              f" {tp['denoise_s'] / hp['denoise_s']:13.2f} {tp['vae_decode_s'] / hp['vae_decode_s']:9.2f}")
    if pairs > 1:
        print(f"{s + 'x' + s:>{w}} pairs' ratios in order: {', '.join(f'{x:.2f}' for x in ratios)};"
              f" median {statistics.median(ratios):.2f}")
print("(ratios above 1: hidiff faster. Phases are the median run's: text+setup = prompt encoding, timesteps and noise"
      " before the first U-Net call; denoise = every U-Net call with guidance and scheduler step; vae = VAE decode and"
      " conversion to 8-bit RGB. torch runs its own scheduler with the folder's config, hidiff its port of it.)")
EOF
