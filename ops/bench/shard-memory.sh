#!/usr/bin/env bash
# A sharded job finishing where one process cannot: the same generation run once as a single
# `hidiff generate` and once as a cluster job over K workers, every process in its own memory cgroup
# limited to LIMIT bytes (needs root; cgroup v1 memory controller or cgroup v2).
#
#   ops/bench/shard-memory.sh [--model DIR] [--size PX] [--limit BYTES] [--workers K] [--steps N] [--cfg-scale G]
#                             [--reference PNG]
#
# Defaults: the demo model at 1024 x 1024 (HiDiffusion on), 2 steps, guidance 7.5, 4 workers, 600 MiB each.
# --model: a diffusers folder (e.g. models/wide, for 4096 px); its workers are given its parent folder.
# --reference: an unlimited `generate` of the same request made earlier, compared instead of running it again.
# Prints the single process's exit status and peak memory, then the cluster job's state, each worker's
# peak memory, and the largest pixel difference between the cluster's image and an unlimited `generate`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
size=1024; limit=$((600 << 20)); workers=4; steps=2; model=""; cfg=7.5; reference=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$(cd "$2" && pwd); shift 2 ;;
    --cfg-scale) cfg=$2; shift 2 ;;
    --reference) reference=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --size) size=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "usage: $0 [--model DIR] [--size PX] [--limit BYTES] [--workers K] [--steps N] [--cfg-scale G] [--reference PNG]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "$0: memory cgroups need root" >&2; exit 1; }
bin=${HIDIFF_BIN:-$repo/.build/release/hidiff}
[ -x "$bin" ] || (cd "$repo" && swift build -c release --product hidiff >&2)

if [ -d /sys/fs/cgroup/memory ]; then cgroot=/sys/fs/cgroup/memory; v=1
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroot=/sys/fs/cgroup; v=2
else echo "$0: no memory cgroup controller found" >&2; exit 1; fi
tag="hidiff-shard-$$"
make_group() {  # make_group NAME -> path of a cgroup limited to $limit
  local g="$cgroot/$tag-$1"
  mkdir "$g"
  if [ $v = 1 ]; then echo "$limit" > "$g/memory.limit_in_bytes"; else echo "$limit" > "$g/memory.max"; echo 0 > "$g/memory.swap.max" 2>/dev/null || true; fi
  echo "$g"
}
peak() { if [ $v = 1 ]; then cat "$1/memory.max_usage_in_bytes"; else cat "$1/memory.peak" 2>/dev/null || echo -1; fi; }
# Runs "$@" in cgroup $1. The shell moves itself in and execs, so a background `$!` is the program's pid.
in_group_script='echo $$ > "$0/cgroup.procs"; exec "$@"'

dir=$(mktemp -d /tmp/hidiff-shard-memory.XXXXXX)
cleanup() {
  "$repo/ops/cluster" down --dir "$dir" >/dev/null 2>&1 || true
  # Anything still in a cgroup (it must be empty before it can be removed) is stopped.
  for g in "$cgroot/$tag"-*; do
    [ -d "$g" ] || continue
    for pid in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  sleep 0.5
  for g in "$cgroot/$tag"-*; do [ -d "$g" ] || continue; rmdir "$g" 2>/dev/null || echo "$0: could not remove cgroup $g" >&2; done
  rm -rf "$dir"
}
trap cleanup EXIT
mib() { echo $(( $1 >> 20 )); }
request=(-p "a red circle and a blue square" --seed 7 -W "$size" -H "$size" --steps "$steps" --cfg-scale "$cfg")
local_model=(); worker_models=(); cluster_model=()
if [ -n "$model" ]; then
  local_model=(--model "$model"); worker_models=(--models "$(dirname "$model")"); cluster_model=(--model "$(basename "$model")")
fi

echo "limit: $(mib "$limit") MiB per process; model ${model:-demo (shapes)}, ${size}x${size}, $steps steps, guidance $cfg"
single=$(make_group single)
set +e
sh -c "$in_group_script" "$single" "$bin" generate "${local_model[@]}" "${request[@]}" -o "$dir/single.png" --quiet 2>"$dir/single.err"
status=$?
set -e
echo "single process: exit $status, peak $(mib "$(peak "$single")") MiB$([ $status = 137 ] && echo ' (killed by the memory limit)')"

"$repo/ops/cluster" up --workers 0 --dir "$dir" >/dev/null
# shellcheck disable=SC1091
source "$dir/env"
coordinator=$(tr '\0' '\n' < "/proc/$(cat "$dir/run/coordinator-1.pid")/cmdline" | grep -A1 -x -- --listen | tail -1)
for i in $(seq 1 "$workers"); do
  g=$(make_group "worker-$i")
  sh -c "$in_group_script" "$g" "$bin" worker --coordinator "$coordinator" --token-file "$dir/token" --name "worker-$i" \
    --peer-listen 127.0.0.1:0 --memory "$limit" "${worker_models[@]}" >"$dir/logs/worker-$i.log" 2>&1 &
  echo $! > "$dir/run/worker-$i.pid"
done
for _ in $(seq 1 300); do
  n=$(psql "$HIDIFF_DB" -qAtc "SELECT count(*) FROM workers WHERE state <> 'offline'")
  [ "$n" -ge "$workers" ] && break
  sleep 0.2
done
id=$("$bin" submit "${cluster_model[@]}" "${request[@]}" --workers "$workers")
"$bin" wait "$id" --timeout 3600 >/dev/null || true
"$bin" status "$id" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
error = ", error: " + r["error"] if r["error"] else ""
print("cluster job: %s on %d workers (%s), attempt %d%s" % (r["state"], len(r["workers"]), ",".join(r["workers"]), r["attempt"], error))'
for i in $(seq 1 "$workers"); do echo "  worker-$i peak $(mib "$(peak "$cgroot/$tag-worker-$i")") MiB"; done
if "$bin" result "$id" -o "$dir/cluster.png" >/dev/null 2>&1; then
  if [ -z "$reference" ]; then
    "$bin" status "$id" --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[0]["request"]))' > "$dir/request.json"
    "$bin" generate "${local_model[@]}" --request "$dir/request.json" -o "$dir/reference.png" --quiet
    reference=$dir/reference.png
  fi
  "$bin" compare "$dir/cluster.png" "$reference" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("cluster image vs unlimited generate: max pixel difference %d, PSNR %s dB" % (d["max_difference"], d["psnr_db"] or "inf"))'
fi
