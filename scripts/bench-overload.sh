#!/usr/bin/env bash
# The overload bench (issue 8): a real `blendlab serve` on a fresh SQLite file, its capacity
# measured, then `blendlab simulate --live` at twice that for 60 s. Prints the admitted
# throughput, latency p50/p99 of answered turns and of refusals, the status mix, and the
# server's RSS before and after (from /proc). Usage:
#   scripts/bench-overload.sh [BINARY] [DURATION]
# BINARY defaults to target/release/blendlab; DURATION to 60s.
set -euo pipefail
binary="${1:-target/release/blendlab}"
duration="${2:-60s}"
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:${port}"
export BLENDLAB_ADMIN_TOKEN="overload-bench-token-0123456789"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$binary" serve --bind "127.0.0.1:${port}" --db "sqlite://${work}/bench.db" 2>"$work/server.log" &
server=$!
until curl -sf "${url}/readyz" >/dev/null; do sleep 0.2; done
auth=(-H "Authorization: Bearer ${BLENDLAB_ADMIN_TOKEN}" -H "Content-Type: application/json")
python3 -c 'import json,tomllib;print(json.dumps(tomllib.load(open("experiments/definitions/chai-blend.toml","rb"))))' \
  | curl -sf "${auth[@]}" -d @- "${url}/api/v1/experiments" >/dev/null
curl -sf "${auth[@]}" -X POST "${url}/api/v1/experiments/chai-blend/start" >/dev/null

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/${server}/status"; }
live() { "$binary" simulate --definition experiments/definitions/chai-blend.toml --live "$url" --json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

rss_start=$(rss_mb)
# Capacity: what the server answers per second when offered far more than it can take.
capacity=$(live --rate 20 --duration 20s --live-users 400 | field "['ok_per_second']")
rate=$(python3 -c "print(round(2 * $capacity, 2))")
rss_before=$(rss_mb)
echo "capacity ${capacity} turns/s (20 s at 20/s); now ${rate}/s for ${duration}" >&2
live --rate "$rate" --duration "$duration" --live-users 400 >"$work/overload.json"
rss_after=$(rss_mb)
python3 - "$work/overload.json" "$capacity" "$rss_start" "$rss_before" "$rss_after" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
capacity, start, before, after = sys.argv[2:]
ms = lambda v: "-" if v is None else f"{v:.0f} ms"
print(f"capacity {float(capacity):.2f} turns/s; offered {run['sent'] / run['seconds']:.2f}/s for {run['seconds']:.0f} s")
print(f"admitted and answered {run['ok']} ({run['ok_per_second']:.2f}/s); statuses {run['statuses']}")
print(f"answered p50 {ms(run['latency_ms_p50'])} p99 {ms(run['latency_ms_p99'])}; "
      f"refused p50 {ms(run['refused_latency_ms_p50'])} p99 {ms(run['refused_latency_ms_p99'])}")
print(f"server RSS: {start} MB at start, {before} MB before the overload, {after} MB after")
PY
