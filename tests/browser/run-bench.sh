#!/usr/bin/env bash
# CTest's bench_html_browser_run: a real `edgelab bench --compare --html` run
# (counter-broken against counter-cas, served in edgelab's process), then the
# page it wrote checked in headless Chromium (check_report.mjs).
# Usage: run-bench.sh BUILD_DIR OUT_DIR
# Leaves OUT_DIR/bench_html_run.html, .json and .png to look at.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
out="$2"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "run-bench: $here/node_modules/playwright-core is missing: run scripts/install-deps" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in counter-broken counter-cas; do
  cat >"$work/$name.toml" <<TOML
name = "$name"
main = "$build/examples/$name.wasm"
[[kv_namespaces]]
binding = "EDGE_COUNTER_KV"
id = "counter"
TOML
done
"$build/edgelab" bench "$work/counter-broken.toml" --compare "$work/counter-cas.toml" \
  -n 300 -c 30 --reps 2 --verify /value --quiet \
  --json "$out/bench_html_run.json" --html "$out/bench_html_run.html"
node "$here/check_report.mjs" "$out/bench_html_run.html" "$out/bench_html_run.png"
