#!/usr/bin/env bash
# bench/check-vs-porcupine.sh PORCUPINE_DIR [BUILD]: edgelab's linearizability
# checker against Porcupine's on the same histories, on this machine (issue 5,
# item 6: at least as fast as Porcupine on Jepsen etcd-style histories).
#
# PORCUPINE_DIR is a checkout of github.com/anishathalye/porcupine (or set
# PORCUPINE); nothing of it is copied into this repository. Its
# test_data/jepsen/etcd_*.log (real Jepsen etcd runs, cas-register, 5 clients
# plus the fresh processes that replace timed-out ones) are the first set;
# empty files are skipped. The second set (GEN=1, the default) is generated
# here by `edgelab_check_bench --generate`: 1,000-op etcd-style logs of 5, 10
# and 20 clients, each linearizable and with one impossible read (at the end,
# or a stale value from the middle or the end on).
#
# Both sides are timed in-process on the parsed history, parsing excluded:
# ours is CheckLinearizable (src/check/check_bench.cc; its verdict comes with
# the explanation of a violation), Porcupine's CheckEventsTimeout with the etcd
# model and parsing rules of its porcupine_test.go (bench/porcupine/main.go,
# built against PORCUPINE_DIR with GOPROXY=off: Porcupine has no
# dependencies). Per file, each tool reports the median of as many checks as
# fit in MIN_MS (default 200) ms, at least 3 unless they take over a second;
# a check gives up after TIMEOUT (default 30) s and counts as that long.
# RUNS (default 3) runs over all files, alternating which tool goes first;
# a file's time is the median over runs. VERBOSE=1 also times Porcupine's
# CheckEventsVerbose (its verdict plus partial linearizations).
#
# Prints markdown for docs/benchmarks.md: the machine, per-set totals,
# medians and maxima, per-run totals, the generated logs file by file, and
# every file where the verdicts differ. Not a test: times depend on the
# machine.
set -euo pipefail
cd "$(dirname "$0")/.."
porcupine=${1:-${PORCUPINE:-}}
build=${2:-build}
runs=${RUNS:-3}
min_ms=${MIN_MS:-200}
timeout=${TIMEOUT:-30}
gen=${GEN:-1}
verbose=${VERBOSE:-0}

if [ -z "$porcupine" ] || [ ! -f "$porcupine/checker.go" ] ||
  [ ! -d "$porcupine/test_data/jepsen" ]; then
  echo "usage: bench/check-vs-porcupine.sh PORCUPINE_DIR [BUILD]" >&2
  echo "  PORCUPINE_DIR: git clone https://github.com/anishathalye/porcupine" >&2
  exit 2
fi
porcupine=$(cd "$porcupine" && pwd)
command -v go >/dev/null || scripts/install-deps golang-go

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Porcupine's side: our main.go, a go.mod that points at the checkout.
mkdir "$tmp/go"
cp bench/porcupine/main.go "$tmp/go/"
cat >"$tmp/go/go.mod" <<EOF
module edgelab.local/porcupine-bench

go 1.16

require github.com/anishathalye/porcupine v0.0.0

replace github.com/anishathalye/porcupine => $porcupine
EOF
(cd "$tmp/go" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" \
  go build -o "$tmp/porcupine-bench" .)
ninja -C "$build" edgelab_check_bench >/dev/null
ours="$build/src/check/edgelab_check_bench"

files=()
for f in "$porcupine"/test_data/jepsen/etcd_*.log; do
  [ -s "$f" ] && files+=("$f")
done
if [ "$gen" = 1 ]; then
  mkdir "$tmp/gen"
  "$ours" --generate "$tmp/gen"
  files+=("$tmp"/gen/*.log)
fi

porcupine_flags=(-min-ms "$min_ms" -timeout "$timeout")
[ "$verbose" = 1 ] && porcupine_flags+=(-verbose)
for run in $(seq 1 "$runs"); do
  for side in ours porcupine; do
    # Odd runs: ours first; even runs: Porcupine first.
    if [ $((run % 2)) = 0 ]; then side=$([ "$side" = ours ] && echo porcupine || echo ours); fi
    echo "run $run: $side" >&2
    if [ "$side" = ours ]; then
      "$ours" --min-ms "$min_ms" --timeout "$timeout" "${files[@]}" >"$tmp/ours-$run.tsv"
    else
      "$tmp/porcupine-bench" "${porcupine_flags[@]}" "${files[@]}" >"$tmp/porcupine-$run.tsv"
    fi
  done
done

commit=$(git -C "$porcupine" rev-parse --short HEAD 2>/dev/null || echo "${PORCUPINE_COMMIT:-unknown}")
echo "$(date -u '+%F %H:%M UTC'); $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1);" \
  "$(go version | cut -d' ' -f3); Porcupine $commit; RUNS=$runs MIN_MS=$min_ms TIMEOUT=$timeout"
echo
python3 - "$tmp" "$runs" "$timeout" <<'PY'
import math, os, statistics, sys

tmp, runs, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def load(side):
    per_run = []
    for run in range(1, runs + 1):
        rows = {}
        for line in open(os.path.join(tmp, f"{side}-{run}.tsv")):
            f = line.rstrip("\n").split("\t")
            us = float(f[4])
            rows[f[0]] = (f[1], int(f[2]), timeout * 1e6 if f[1] == "unknown" else us,
                          None if len(f) < 6 or f[5] == "-" else float(f[5]))
        per_run.append(rows)
    return per_run

ours, porc = load("ours"), load("porcupine")
files = list(ours[0])
def verdict(side, f): return side[0][f][0]
def known(f):  # the verdict, from whichever tool reached one
    return verdict(porc, f) if verdict(porc, f) != "unknown" else verdict(ours, f)
def med(side, f, col=2):
    vals = [r[f][col] for r in side if r[f][col] is not None]
    return statistics.median(vals) if vals else None
def ms(us):  # a time for a person: "0.02 ms", "340 ms", "12.3 s"
    if us >= 1e7: return f"{us / 1e6:,.1f} s"
    return f"{us / 1000:,.2f} ms" if us < 1e5 else f"{us / 1000:,.0f} ms"
def name(f): return os.path.basename(f)

def timed_out(side, f): return any(r[f][0] == "unknown" for r in side)
def shown(side, f):
    return ("≥ " if timed_out(side, f) else "") + ms(med(side, f))

sets = [("Porcupine's etcd logs, linearizable", lambda f: "/gen/" not in f and known(f) == "linearizable"),
        ("Porcupine's etcd logs, not linearizable", lambda f: "/gen/" not in f and known(f) != "linearizable"),
        ("generated 1,000-op logs, linearizable", lambda f: "/gen/" in f and f.endswith("-ok.log")),
        ("generated 1,000-op logs, not linearizable", lambda f: "/gen/" in f and not f.endswith("-ok.log"))]
print("| set | files | ops (median) | edgelab total | median | max | Porcupine total | median | max | edgelab faster on | geo. mean of Porcupine / edgelab |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for title, pick in sets:
    fs = [f for f in files if pick(f)]
    if not fs: continue
    o = [med(ours, f) for f in fs]; p = [med(porc, f) for f in fs]
    wins = sum(1 for a, b in zip(o, p) if a < b)
    geo = math.exp(statistics.mean(math.log(b / a) for a, b in zip(o, p)))
    lb = "≥ " if any(timed_out(porc, f) for f in fs) else ""
    ops = statistics.median(ours[0][f][1] for f in fs)
    print(f"| {title} | {len(fs)} | {ops:.0f} | {ms(sum(o))} | {ms(statistics.median(o))} | {ms(max(o))} "
          f"| {lb}{ms(sum(p))} | {ms(statistics.median(p))} | {lb}{ms(max(p))} | {wins} of {len(fs)} | {lb}{geo:,.1f}× |")
print()
print("Each file's time is its median over runs. Per-run totals over all files, edgelab / Porcupine:",
      "; ".join(f"run {i + 1}: {ms(sum(r[f][2] for f in files))} / {ms(sum(q[f][2] for f in files))}"
                for i, (r, q) in enumerate(zip(ours, porc))))
if porc[0][files[0]][3] is not None:
    v = [med(porc, f, 3) for f in files]
    print(f"\nPorcupine's CheckEventsVerbose, all files: total {ms(sum(v))}, median {ms(statistics.median(v))}, max {ms(max(v))}.")
gen = [f for f in files if "/gen/" in f]
if gen:
    print("\n| generated log | ops | verdict | edgelab | Porcupine |")
    print("|---|---|---|---|---|")
    for f in sorted(gen, key=lambda f: (int(name(f).split("-")[1][1:]), name(f))):
        print(f"| {name(f)} | {ours[0][f][1]} | {verdict(ours, f)} | {shown(ours, f)} | {shown(porc, f)} |")
slow = sorted((f for f in files if "/gen/" not in f), key=lambda f: -med(porc, f))[:5]
print("\nSlowest etcd logs for Porcupine:",
      "; ".join(f"{name(f)} ({verdict(porc, f)}) {shown(porc, f)}, edgelab {shown(ours, f)}" for f in slow))
diff = [f for f in files if any(r[f][0] != q[f][0] and "unknown" not in (r[f][0], q[f][0])
                                for r, q in zip(ours, porc))]
unknown = [f for f in files if timed_out(ours, f) or timed_out(porc, f)]
print(f"\nVerdicts differ on {len(diff)} of {len(files)} files" + (": " + ", ".join(map(name, diff)) if diff else "."),
      f"Timed out (≥ {timeout:.0f} s, no verdict):",
      ", ".join(f"{name(f)} ({' and '.join(t for t, side in (('edgelab', ours), ('Porcupine', porc)) if timed_out(side, f))})"
                for f in unknown) or "none.")
PY
