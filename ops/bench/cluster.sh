#!/usr/bin/env bash
# The queue benchmark: a local cluster (1 coordinator, 3 workers, the demo model) measured end to end.
#
#   ops/bench/cluster.sh [--jobs N] [--steps S]
#
# Prints:
#   - jobs per minute through the queue: N one-step 64 px jobs submitted at once to 3 workers;
#   - time from submit to first step: jobs submitted one at a time to an idle cluster (median, max);
#   - coordinator overhead per step: the coordinator's CPU time over an S-step job divided by S (it records
#     every step and a checkpoint every 5 in PostgreSQL), and the job's per-step wall time on the cluster
#     against the same per-step time measured by `hidiff generate` on this machine (the differences of an
#     S-step and a 1-step run, best of 2, so fixed costs cancel), at 128 px.
# All on this machine's cores, which the workers share: throughput is bounded by the cores, not the queue.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
jobs=60; steps=100
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--steps S]" >&2; exit 2 ;;
  esac
done
dir=$(mktemp -d /tmp/hidiff-bench-cluster.XXXXXX)
trap '"$repo/ops/cluster" down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$repo/ops/cluster" up --workers 3 --dir "$dir" >/dev/null
# shellcheck disable=SC1091
source "$dir/env"
q() { psql "$HIDIFF_DB" -qAtc "$1"; }
now() { date +%s.%N; }
common=(-W 64 -H 64 --scheduler ddim --cfg-scale 6)

# Warm every worker's model cache (the first job on a worker loads the model).
hidiff submit -p "a red circle" --seeds 1-3 --steps 1 "${common[@]}" --batch warm >/dev/null
hidiff wait --batch warm --timeout 120

# 1. Throughput: N one-step jobs at once.
start=$(now)
hidiff submit -p "a green square" --seeds "1-$jobs" --steps 1 "${common[@]}" --batch throughput >/dev/null
hidiff wait --batch throughput --timeout 1800
end=$(now)
throughput=$(python3 -c "print(f'{$jobs / (($end - $start) / 60):.1f}')")

# 2. Submit to first step, one job at a time on an idle cluster.
lat=()
for i in $(seq 1 10); do
  id=$(hidiff submit -p "a blue circle" --seed "$i" --steps 2 "${common[@]}" --batch latency)
  hidiff wait "$id" --timeout 120
  lat+=("$(q "SELECT extract(epoch FROM first_step_at - created_at) FROM jobs WHERE id = $id")")
done
latency=$(printf '%s\n' "${lat[@]}" | python3 -c "import sys,statistics as s; v=[float(x)*1000 for x in sys.stdin]; print(f'median {s.median(v):.1f} ms, max {max(v):.1f} ms')")

# 3. Per-step time on the cluster vs locally (128 px), and the coordinator's CPU per step.
big=(-W 128 -H 128 --scheduler ddim --cfg-scale 6)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$dir/run/coordinator-1.pid")/stat"; }
cluster_run() {
  local n=$1 id
  id=$(hidiff submit -p "a yellow triangle" --seed 5 --steps "$n" "${big[@]}" --batch "steps-$n")
  hidiff wait "$id" --timeout 900
  q "SELECT extract(epoch FROM finished_at - started_at) FROM jobs WHERE id = $id"
}
local_run() {
  local n=$1 t0 t1
  t0=$(now)
  hidiff generate -p "a yellow triangle" --seed 5 --steps "$n" "${big[@]}" -o "$dir/local.png" --quiet
  t1=$(now)
  python3 -c "print($t1 - $t0)"
}
best() { python3 -c "import sys; print(min(map(float, sys.argv[1:])))" "$@"; }
c1=$(best "$(cluster_run 1)" "$(cluster_run 1)")
ticks0=$(cpu_ticks)
csa=$(cluster_run "$steps")
ticks1=$(cpu_ticks)
cs=$(best "$csa" "$(cluster_run "$steps")")
l1=$(best "$(local_run 1)" "$(local_run 1)")
ls_=$(best "$(local_run "$steps")" "$(local_run "$steps")")
hz=$(getconf CLK_TCK)
python3 - "$c1" "$cs" "$l1" "$ls_" "$steps" "$throughput" "$latency" "$jobs" "$((ticks1 - ticks0))" "$hz" <<'PY'
import sys
c1, cs, l1, ls, steps = map(float, sys.argv[1:6])
throughput, latency, jobs = sys.argv[6], sys.argv[7], sys.argv[8]
ticks, hz = int(sys.argv[9]), int(sys.argv[10])
cluster_step = (cs - c1) / (steps - 1) * 1000
local_step = (ls - l1) / (steps - 1) * 1000
coordinator_cpu = ticks / hz / steps * 1000
print(f"jobs per minute (1-step 64 px jobs, {jobs} at once, 3 workers on this machine's cores): {throughput}")
print(f"submit to first step (idle cluster, 10 jobs): {latency}")
print(f"coordinator CPU per step ({int(steps)}-step 128 px job, progress + checkpoints in PostgreSQL): {coordinator_cpu:.2f} ms "
      f"against {local_step:.1f} ms of compute per step ({coordinator_cpu / local_step * 100:.2f}%)")
print(f"per-step wall time at 128 px: cluster {cluster_step:.1f} ms, local generate {local_step:.1f} ms "
      f"(difference {cluster_step - local_step:+.1f} ms per step)")
PY
