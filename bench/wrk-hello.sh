#!/usr/bin/env bash
# bench/wrk-hello.sh [BUILD]: the throughput benchmark of issue 2: wrk -t2
# -c64 -d10s against the hello example, on this machine, with wrk beside the
# server. Prints a markdown row for docs/benchmarks.md (date, machine,
# command, req/s, p99). Not a test: numbers depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-3}
log=$(mktemp)
"$build/edgelab" serve examples/hello/edge.toml --port 0 --quiet --data :memory: 2>"$log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*serving .* on http://[^:]*:\([0-9]*\).*|\1|p' "$log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "${port:-}" ] || { cat "$log" >&2; exit 1; }
url="http://127.0.0.1:$port/"
wrk -t2 -c64 -d2s "$url" >/dev/null  # warm-up
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
for i in $(seq 1 "$runs"); do
  out=$(wrk -t2 -c64 -d10s --latency "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | grep -E 'Socket errors|Non-2xx' || echo none)
  echo "| $(date -u +%F) | $machine | wrk -t2 -c64 -d10s hello (run $i) | $rps | $p99 | $errors |"
done
kill -TERM $pid
wait $pid || true
