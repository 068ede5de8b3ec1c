#!/usr/bin/env bash
# CTest's bench_html_browser: renders fixture.json with bench_html_render and
# checks the page in headless Chromium (check_report.mjs).
# Usage: run-fixture.sh BENCH_HTML_RENDER OUT_DIR
# Leaves OUT_DIR/bench_html_browser.html and .png to look at.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
render="$1"
out="$2"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "run-fixture: $here/node_modules/playwright-core is missing: run scripts/install-deps" >&2
  exit 1
fi
"$render" "$here/fixture.json" "$out/bench_html_browser.html"
node "$here/check_report.mjs" "$out/bench_html_browser.html" "$out/bench_html_browser.png"
