#!/usr/bin/env bash
# bench/do-counters.sh [BUILD]: the Durable Object benchmark of issue 3:
# counter-do and counter-lock under `edgelab bench` at 100 and 1000 in flight,
# each run on a fresh SQLite data folder (the default store, so the output
# gate waits for real commits), with --verify /value so a lost update shows.
# When workerd is installed as the anchors describe (/tmp/anchors, see
# ../shared/anchors/workerd/README.md), its Durable Object counter (on-disk
# SQLite storage, :8804) is measured in the same run with the same client.
# Prints markdown rows for docs/benchmarks.md. Not a test: numbers depend on
# the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-3}
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
pids=()
tmps=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for t in "${tmps[@]}"; do rm -rf "$t"; done
}
trap cleanup EXIT

# serve TOML: starts edgelab on a fresh data folder; sets $url.
serve() {
  local data log
  data=$(mktemp -d) log=$(mktemp)
  tmps+=("$data" "$log")
  "$build/edgelab" serve "$1" --port 0 --quiet --data "$data" 2>"$log" &
  pids+=($!)
  for _ in $(seq 1 200); do
    port=$(sed -n 's|.*serving .* on http://[^:]*:\([0-9]*\).*|\1|p' "$log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "${port:-}" ] || { cat "$log" >&2; exit 1; }
  url="http://127.0.0.1:$port/"
}

stop() { kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || true; }

# row LABEL BENCH_OUTPUT: one markdown row from `edgelab bench` output.
row() {
  local rps p50 p99 failed verify
  rps=$(echo "$2" | sed -n 's/.*s, \([0-9.]*\) req\/s.*/\1/p')
  p50=$(echo "$2" | sed -n 's/.*p50 \([0-9.]* [mu]*s\).*/\1/p')
  p99=$(echo "$2" | sed -n 's/.*p99 \([0-9.]* [mu]*s\).*/\1/p')
  failed=$(echo "$2" | sed -n 's/^failed *\([0-9]*\).*/\1/p')
  verify=$(echo "$2" | sed -n 's/^verify [^:]*: \([0-9]*\) (expected \([0-9]*\).*/\1 of \2/p')
  echo "| $(date -u +%F) | $machine | $1 | $rps | $p50 | $p99 | ${failed:-0} | ${verify:-n/a} |"
}

echo "| date | machine | run | req/s | p50 | p99 | failed | /value |"
echo "|---|---|---|---|---|---|---|---|"
for i in $(seq 1 "$runs"); do
  for ex in counter-do counter-lock; do
    for c in 100 1000; do
      n=$((c == 100 ? 20000 : 1000))
      [ "$ex" = counter-lock ] && n=$((c == 100 ? 5000 : 1000))
      serve "examples/$ex/edge.toml"
      out=$("$build/edgelab" bench "$url" -n "$n" -c "$c" --verify /value 2>&1 || true)
      row "edgelab $ex -n $n -c $c (run $i)" "$out"
      stop
    done
  done
  if [ -x /tmp/anchors/node_modules/workerd/bin/workerd ]; then
    (cd /tmp/anchors && mkdir -p do-storage &&
      exec node_modules/workerd/bin/workerd serve config.capnp >/dev/null 2>&1) &
    pids+=($!)
    for _ in $(seq 1 100); do
      curl -sf http://127.0.0.1:8804/read >/dev/null 2>&1 && break
      sleep 0.1
    done
    "$build/edgelab" bench http://127.0.0.1:8804/ -n 500 -c 50 >/dev/null 2>&1 || true  # warm-up
    out=$("$build/edgelab" bench http://127.0.0.1:8804/ -n 20000 -c 100 2>&1 || true)
    row "workerd DO counter (disk) -n 20000 -c 100 (run $i)" "$out"
    kill -TERM "${pids[-1]}" 2>/dev/null || true
    pkill -f "workerd serve config.capnp" 2>/dev/null || true
    wait "${pids[-1]}" 2>/dev/null || true
  fi
done
