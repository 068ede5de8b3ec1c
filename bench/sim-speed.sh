#!/usr/bin/env bash
# bench/sim-speed.sh [BUILD]: how fast `edgelab test` simulates (issue 6
# item 4: at least 50,000 simulated requests per second on one core for
# counter-broken). Pinned to one core with taskset; RUNS runs of each case,
# process CPU seconds (user + sys) from /usr/bin/time, requests per CPU
# second printed per run. Cases, all counter-broken at -c 10:
#   plain:   100 schedules of 1,000 requests, invariants off but progress
#            (--no-race --no-linearizability, no --verify): the scheduler,
#            runtime and interpreter alone;
#   checked: one schedule of 100,000 requests replayed with every invariant
#            (race detector, history and its linearizability check, counter),
#            its whole trace printed to /dev/null.
# hello (a guest that does nearly nothing) shows the simulator's own cost.
# Not a test: numbers depend on the machine. Output: markdown rows.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# case LABEL REQUESTS ARGS...: RUNS rows "| LABEL | requests | cpu s | req/s |".
case_() {
  local label=$1 requests=$2
  shift 2
  for ((i = 1; i <= runs; i++)); do
    /usr/bin/time -f "%U %S" -o "$tmp/time" taskset -c 0 "$build/edgelab" test "$@" -q \
      >/dev/null || true
    read -r user sys < <(tail -n 1 "$tmp/time")
    python3 -c "
u, s, n = $user, $sys, $requests
print(f'| $label | {n:,} | {u + s:.2f} | {n / (u + s):,.0f} |')"
  done
}

echo "| case | requests | CPU s | simulated req/s |"
echo "|---|---|---|---|"
case_ "counter-broken plain" 100000 examples/counter-broken/edge.toml -n 1000 -c 10 \
  --schedules 100 --no-race --no-linearizability
case_ "counter-broken checked" 100000 examples/counter-broken/edge.toml -n 100000 -c 10 \
  --verify /value --replay 1
case_ "hello plain" 100000 examples/hello/edge.toml -n 1000 -c 10 --schedules 100 \
  --no-race --no-linearizability
