#!/bin/sh
# hidiff's U-Net forward against PyTorch's on this machine (issue 2's benchmark).
#
# For each image size: PyTorch's CPU forward (diffusers, tools/reference/bench_torch_unet.py), then
# `hidiff bench unet`, back to back and never at the same time, batch 2; then the machine's SGEMM peak
# (`hidiff bench sgemm`). Prints every JSON line, then a table with both medians, the ratio, and hidiff's
# throughput as a fraction of that peak.
#
#   ops/bench/unet-vs-torch.sh [--model DIR] [--sizes "512 1024"] [--runs N] [--warmup N] [--batch B]
#                              [--python PY] [--hidiff BIN] [--precision fp32|bf16] [--vae-factor F]
#                              [--pairs N]
#
# Defaults: --model /work/fullsize/sd15/unet (make_fullsize.py writes it: random weights, real SD 1.5 config),
# --sizes "512 1024" (latents 64x64 and 128x128), --runs 3, --warmup 1 (untimed forwards before the timed
# ones, each tool), --batch 2, --python /work/venv/bin/python, --hidiff .build/release/hidiff (built first
# if missing: `swift build -c release --product hidiff`), --precision fp32, --vae-factor 8 (4 for the demo model). With --precision bf16, PyTorch runs
# twice (torch.autocast bfloat16 with float32 weights, then the weights cast to bfloat16), hidiff runs
# `--precision bf16`, and the peak is oneDNN's bfloat16 GEMM's.
#
# --pairs N (default 1) repeats PyTorch-then-hidiff N times per size, alternating, because this machine's
# speed can change by 2x within minutes and the two tools do not slow down alike: the table then shows each
# tool's median over the pairs and the median of the pairs' ratios, and a line lists every pair's ratio.
#
# Wall-clock medians are only meaningful on an otherwise idle machine; both tools also report CPU seconds
# per forward (median_cpu_s), which degrade far less when other jobs share the cores, and the last column
# compares GFLOP per CPU-second with SGEMM's, which holds up under load too.
set -eu

MODEL=/work/fullsize/sd15/unet
SIZES="512 1024"
RUNS=3
WARMUP=1
BATCH=2
VAE_FACTOR=8
PY=/work/venv/bin/python
HIDIFF=.build/release/hidiff
PRECISION=fp32
PAIRS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --vae-factor) VAE_FACTOR=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --hidiff) HIDIFF=$2; shift 2 ;;
        --precision) PRECISION=$2; shift 2 ;;
        --pairs) PAIRS=$2; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unet-vs-torch.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PAIRS" in
    ''|*[!0-9]*|0) echo "unet-vs-torch.sh: --pairs must be a whole number of at least 1 (got $PAIRS)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.."
[ -d "$MODEL" ] || { echo "unet-vs-torch.sh: no U-Net folder at $MODEL (run tools/reference/make_fullsize.py)" >&2; exit 1; }
if [ ! -x "$HIDIFF" ]; then
    swift build -c release --product hidiff
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for size in $SIZES; do
for pair in $(seq 1 "$PAIRS"); do
    echo "== ${size}x${size}, batch $BATCH, pair $pair of $PAIRS: PyTorch" >&2
    TORCH_PRECISION=fp32
    [ "$PRECISION" = bf16 ] && TORCH_PRECISION=bf16-autocast
    "$PY" tools/reference/bench_torch_unet.py --model "$MODEL" -W "$size" -H "$size" --batch "$BATCH" \
        --vae-factor "$VAE_FACTOR" --runs "$RUNS" --warmup "$WARMUP" --precision "$TORCH_PRECISION" | tee "$OUT/torch-$size-$pair.json"
    if [ "$PRECISION" = bf16 ]; then
        echo "== ${size}x${size}, batch $BATCH: PyTorch, bfloat16 weights" >&2
        "$PY" tools/reference/bench_torch_unet.py --model "$MODEL" -W "$size" -H "$size" --batch "$BATCH" \
            --vae-factor "$VAE_FACTOR" --runs "$RUNS" --warmup "$WARMUP" --precision bf16 | tee "$OUT/torchw-$size-$pair.json"
    fi
    echo "== ${size}x${size}, batch $BATCH: hidiff" >&2
    "$HIDIFF" bench unet --model "$MODEL" -W "$size" -H "$size" --batch "$BATCH" --runs "$RUNS" --warmup "$WARMUP" \
        --vae-factor "$VAE_FACTOR" --precision "$PRECISION" | tee "$OUT/hidiff-$size-$pair.json"
done
done
"$HIDIFF" bench sgemm --size 2048 --runs 10 | tee "$OUT/sgemm.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$OUT" "$PRECISION" $SIZES <<'EOF'
import glob, json, os, statistics, sys
out, precision, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
read = lambda name: json.load(open(f"{out}/{name}.json"))
def runs(name):
    # Every pair's JSON for one tool and size, in pair order.
    files = sorted(glob.glob(f"{out}/{name}-*.json"), key=lambda f: int(f.rsplit("-", 1)[1][:-5]))
    return [json.load(open(f)) for f in files]
def merged(name):
    # One record: the medians over the pairs (one pair: that pair's record).
    rs = runs(name)
    r = dict(rs[0])
    for key in ("median_s", "median_cpu_s", "model_gflops_per_s"):
        if key in r:
            r[key] = statistics.median(x[key] for x in rs)
    r["peak_rss_bytes"] = max(x["peak_rss_bytes"] for x in rs)
    return r
peak = read("sgemm")
if precision == "bf16":
    # The peak of the products bfloat16 mode runs: oneDNN's bfloat16 GEMM at the same size.
    peak = {"gflops": peak["bf16_gflops"], "gflops_per_cpu_s": peak["bf16_gflops_per_cpu_s"],
            "what": f"oneDNN bfloat16 GEMM ({peak['bf16_isa']})"}
else:
    peak["what"] = f"OpenBLAS SGEMM ({peak['openblas_corename']})"
print(f"\nprecision {precision}; kernels: {merged(f'hidiff-{sizes[0]}')['kernels']}")
print(f"GEMM peak (n=2048, {peak['what']}): {peak['gflops']:.0f} GFLOPS wall, {peak['gflops_per_cpu_s']:.0f} GFLOPS per CPU-second")
for s in sizes:
    if runs(f"torchw-{s}"):
        w = merged(f"torchw-{s}")
        print(f"{s}x{s}: PyTorch with bfloat16 weights {w['median_s']:.2f} s ({w['median_cpu_s']:.1f} cpu-s), "
              f"peak RSS {w['peak_rss_bytes'] >> 20} MiB")
print(f"{'image':>9} {'torch s':>8} {'hidiff s':>9} {'torch/hidiff':>12} {'torch cpu-s':>11} {'hidiff cpu-s':>12}"
      f" {'model GFLOP':>11} {'% peak':>7} {'% peak/cpu-s':>12} {'torch MiB':>9} {'hidiff MiB':>10}")
for s in sizes:
    t, h = merged(f"torch-{s}"), merged(f"hidiff-{s}")
    ratios = [a["median_s"] / b["median_s"] for a, b in zip(runs(f"torch-{s}"), runs(f"hidiff-{s}"))]
    frac = h["model_gflops_per_s"] / peak["gflops"]
    frac_cpu = h["model_gflop"] / h["median_cpu_s"] / peak["gflops_per_cpu_s"]
    print(f"{s + 'x' + s:>9} {t['median_s']:8.2f} {h['median_s']:9.2f} {statistics.median(ratios):12.2f}"
          f" {t['median_cpu_s']:11.1f} {h['median_cpu_s']:12.1f} {h['model_gflop']:11.0f} {100 * frac:6.0f}%"
          f" {100 * frac_cpu:11.0f}% {t['peak_rss_bytes'] >> 20:9d} {h['peak_rss_bytes'] >> 20:10d}")
    if len(ratios) > 1:
        print(f"{'':>9} pairs' ratios in order: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
print("(% peak: the model's direct-convolution GFLOP (what PyTorch computes) per second of hidiff's median, over"
      " the SGEMM peak; % peak/cpu-s: the same per CPU-second. Winograd convolutions issue fewer SGEMM flops,"
      " so these can exceed 100%.)")
EOF
