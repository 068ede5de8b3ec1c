#!/usr/bin/env bash
# bench/vs-wrk.sh [BUILD]: is `edgelab bench` itself the bottleneck? (issue 4,
# item 10: it must reach >= 90% of wrk's req/s.) Serves a fixed 200 "hello\n"
# from its own nginx (Debian's nginx-light, installed through
# scripts/install-deps when missing) on a free loopback port, then runs wrk
# and `edgelab bench` with the same threads, connections and duration,
# alternating, RUNS (default 3) pairs per setting: -t2 -c64 and -t1 -c64,
# DURATION (default 10) seconds each, after a 2 s warm-up of each tool.
# WORKERS sets nginx's worker_processes (default: one per core, so that
# nginx can use every core and each microsecond the client spends is taken
# from the server; with 1, nginx is capped at one core and a client that
# costs more per request can hide on the other).
# Prints markdown rows for docs/benchmarks.md, then the mean ratio per
# setting. Not a test: numbers depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-3}
duration=${DURATION:-10}
workers=${WORKERS:-$(nproc)}
nginx=/usr/sbin/nginx

if [ ! -x "$nginx" ]; then
  scripts/install-deps nginx-light
  # On a machine with systemd the package starts a system nginx on port 80.
  # Nothing here uses it (the nginx below is this script's own); stop it so
  # it does not sit beside the measurement.
  if [ -s /run/nginx.pid ] && [ -d "/proc/$(cat /run/nginx.pid)" ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "vs-wrk: stopping the system nginx the package started" >&2
    $sudo systemctl stop nginx 2>/dev/null || $sudo invoke-rc.d nginx stop || true
  fi
fi
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "vs-wrk: $tool missing (scripts/install-deps)" >&2; exit 1; }
done

tmp=$(mktemp -d)
ngx=""
cleanup() {
  if [ -n "$ngx" ]; then
    kill -TERM "$ngx" 2>/dev/null || true
    wait "$ngx" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Our own nginx: nothing on disk outside $tmp, so it runs as any user. The
# *_temp_path lines only keep a non-root nginx from trying /var/lib/nginx.
# keepalive_requests is high so no keep-alive connection is closed during a
# run (nginx's default closes one every 1000 requests).
for port in $(seq 18080 18179); do
  # Skip a port something already answers on (nginx retries bind() for ~2 s,
  # long enough to probe the other server by mistake).
  rc=0
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" || rc=$?
  [ "$rc" -eq 7 ] || continue
  cat >"$tmp/nginx.conf" <<EOF
worker_processes $workers;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "hello\n"; }
  }
}
EOF
  : >"$tmp/error.log"
  "$nginx" -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/error.log" -g 'daemon off;' &
  ngx=$!
  up=""
  for _ in $(seq 1 100); do
    if grep -q 'Address already in use' "$tmp/error.log"; then break; fi
    if ! kill -0 "$ngx" 2>/dev/null; then cat "$tmp/error.log" >&2; exit 1; fi
    if [ "$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null)" = hello ]; then
      up=1
      break
    fi
    sleep 0.05
  done
  [ -n "$up" ] && break
  kill -TERM "$ngx" 2>/dev/null || true
  wait "$ngx" 2>/dev/null || true
  ngx=""
done
[ -n "$ngx" ] || { echo "vs-wrk: could not start nginx on 18080-18179" >&2; cat "$tmp/error.log" >&2; exit 1; }
url="http://127.0.0.1:$port/"
echo "vs-wrk: nginx $("$nginx" -v 2>&1 | sed 's|.*/||'), $workers worker(s), on $url" >&2
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"

# run_wrk T C D / run_edgelab T C D: set rps, p99, errors.
run_wrk() {
  local out
  out=$(wrk -t"$1" -c"$2" -d"$3"s --latency "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | grep -E 'Socket errors|Non-2xx' | tr -s ' ' | paste -sd ';' || true)
  errors=${errors:-none}
}
run_edgelab() {
  local out
  out=$("$build/edgelab" bench "$url" -t "$1" -c "$2" -d "$3" --quiet 2>&1) ||
    { echo "$out" >&2; exit 1; }
  rps=$(echo "$out" | sed -n '1s/.*s, \([0-9.]*\) req\/s.*/\1/p' | awk '{printf "%.0f", $1}')
  p99=$(echo "$out" | sed -n 's/^latency .*p99 \([0-9.]* [mu]*s\),.*/\1/p' | head -1)
  errors=$(echo "$out" | sed -n 's/^failed *\([0-9]*\).*/\1/p' | head -1)
  [ "${errors:-0}" = 0 ] && errors=none || errors="$errors failed"
}

settings=("2 64" "1 64")
for s in "${settings[@]}"; do
  read -r t c <<<"$s"
  wrk -t"$t" -c"$c" -d2s "$url" >/dev/null                                   # warm-up
  "$build/edgelab" bench "$url" -t "$t" -c "$c" -d 2 --quiet >/dev/null 2>&1  # warm-up
done

echo "| date | machine | setting | wrk req/s | edgelab req/s | ratio | wrk p99 | edgelab p99 | errors (wrk / edgelab) |"
echo "|---|---|---|---|---|---|---|---|---|"
declare -A sum_ratio sum_wrk sum_edge
for i in $(seq 1 "$runs"); do
  for s in "${settings[@]}"; do
    read -r t c <<<"$s"
    # Odd runs start with wrk, even runs with edgelab: a drift of the
    # machine within a pair does not always favour the same tool.
    if [ $((i % 2)) -eq 1 ]; then
      run_wrk "$t" "$c" "$duration"; w_rps=$rps w_p99=$p99 w_err=$errors
      run_edgelab "$t" "$c" "$duration"; e_rps=$rps e_p99=$p99 e_err=$errors
    else
      run_edgelab "$t" "$c" "$duration"; e_rps=$rps e_p99=$p99 e_err=$errors
      run_wrk "$t" "$c" "$duration"; w_rps=$rps w_p99=$p99 w_err=$errors
    fi
    ratio=$(awk -v e="$e_rps" -v w="$w_rps" 'BEGIN {printf "%.3f", e / w}')
    sum_ratio[$s]=$(awk -v a="${sum_ratio[$s]:-0}" -v r="$ratio" 'BEGIN {print a + r}')
    sum_wrk[$s]=$((${sum_wrk[$s]:-0} + w_rps))
    sum_edge[$s]=$((${sum_edge[$s]:-0} + e_rps))
    echo "| $(date -u +%F) | $machine | -t$t -c$c -d${duration}s (run $i) | $w_rps | $e_rps | $ratio | $w_p99 | $e_p99 | $w_err / $e_err |"
  done
done
for s in "${settings[@]}"; do
  read -r t c <<<"$s"
  awk -v t="$t" -v c="$c" -v d="$duration" -v n="$runs" -v r="${sum_ratio[$s]}" \
    -v w="${sum_wrk[$s]}" -v e="${sum_edge[$s]}" 'BEGIN {
      m = r / n
      printf "| mean | | -t%s -c%s -d%ss (%d runs) | %.0f | %.0f | %.3f (%s 0.90) | | | |\n",
        t, c, d, n, w / n, e / n, m, (m >= 0.90 ? ">=" : "<")
    }'
done
if grep -qE '\[(emerg|alert|crit|error)\]' "$tmp/error.log"; then
  echo "vs-wrk: nginx logged errors:" >&2
  cat "$tmp/error.log" >&2
fi
