#!/usr/bin/env bash
# bench/race-overhead.sh [BUILD]: the cost of race detection (issue 5 item 7).
# For counter-cas and counter-lock, alternates `edgelab bench` without and with
# --race (and with --race --history, which also writes every operation to a
# file), RUNS times each, same -n/-c, fresh SQLite data per run; prints the
# p50 latency and throughput of each run and the ratios of the medians
# (with/without). Target: at most 1.2x in p50 and in throughput.
# Not a test: numbers depend on the machine. Output: markdown rows.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-5}
n=${N:-2000}
c=${C:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run LABEL TOML [FLAGS...]: one bench; prints "p50_ms req_s".
run() {
  local json="$tmp/$1.json"
  shift
  "$build/edgelab" bench "$@" -n "$n" -c "$c" -q --json "$json" >/dev/null
  python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rep = d["targets"][0]["reps"][0]
print(f"{rep['latency_ms']['p50']:.3f} {rep['completed_per_second']:.1f}")
PY
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "| worker | mode | p50 ms (runs) | req/s (runs) | p50 ratio | req/s ratio |"
echo "|---|---|---|---|---|---|"
for worker in ${WORKERS:-counter-cas counter-lock}; do
  toml="examples/$worker/edge.toml"
  declare -A p50s=() rates=()
  for i in $(seq 1 "$runs"); do
    for mode in off race history; do
      case $mode in
        off) flags=() ;;
        race) flags=(--race) ;;
        history) flags=(--race --history "$tmp/h.jsonl") ;;
      esac
      read -r p50 rate < <(run "$worker-$mode-$i" "$toml" "${flags[@]}")
      p50s[$mode]+="$p50 "
      rates[$mode]+="$rate "
    done
  done
  base_p50=$(echo "${p50s[off]}" | tr ' ' '\n' | grep . | median)
  base_rate=$(echo "${rates[off]}" | tr ' ' '\n' | grep . | median)
  for mode in off race history; do
    m_p50=$(echo "${p50s[$mode]}" | tr ' ' '\n' | grep . | median)
    m_rate=$(echo "${rates[$mode]}" | tr ' ' '\n' | grep . | median)
    awk -v w="$worker" -v m="$mode" -v p="${p50s[$mode]}" -v r="${rates[$mode]}" \
        -v mp="$m_p50" -v mr="$m_rate" -v bp="$base_p50" -v br="$base_rate" \
        'BEGIN {printf "| %s | %s | %s | %s | %.2fx | %.2fx |\n", w, m, p, r, mp/bp, br/mr}'
  done
  unset p50s rates
done
