#!/usr/bin/env bash
# The incremental daily run against the one pass (issue 4). Generates the 150,000-user log,
# repartitions it by day as `blendlab export` writes it (DuckDB), then for each AS_OF times:
# the one-pass report; the report as of the day before with an empty --state (a backfill); and
# the daily run as of AS_OF with that state. Checks that the daily run's JSON equals the one
# pass (counts exactly, floats to 1e-9) and prints a README table row per AS_OF. Usage:
#   scripts/bench-incremental.sh [BINARY] AS_OF...
# BINARY defaults to target/release/blendlab. Needs python3 with duckdb (`make pydeps`).
set -euo pipefail
binary="${1:-target/release/blendlab}"
shift || true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$binary" bench analytics --generate --data "$work/log" --users 150000 --no-duckdb >&2
mkdir -p "$work/days"
python3 - "$work" <<'PY'
import sys, duckdb
work = sys.argv[1]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""COPY (SELECT * EXCLUDE (simulated), strftime(created_at, '%Y-%m-%d') AS date
                FROM '{work}/log/messages.parquet' ORDER BY created_at)
               TO '{work}/days/messages' (FORMAT PARQUET, PARTITION_BY (date))""")
PY
cp "$work/log/assignments.parquet" "$work/log/events.parquet" "$work/days/"

echo "| as_of | one pass | its peak RSS | backfill to the day before | daily run | its peak RSS | parts read |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for as_of in "$@"; do
  before=$(date -u -d "$as_of -1 day" +%F)
  rm -rf "$work/state"
  report=("$binary" report --data "$work/days" --experiment chai-blend)
  /usr/bin/time -f "%e %M" -o "$work/t.full" "${report[@]}" --as-of "$as_of" --out "$work/full.json"
  /usr/bin/time -f "%e %M" -o "$work/t.backfill" "${report[@]}" --as-of "$before" \
    --state "$work/state" --out "$work/backfill.json" 2>/dev/null
  /usr/bin/time -f "%e %M" -o "$work/t.daily" "${report[@]}" --as-of "$as_of" \
    --state "$work/state" --out "$work/daily.json" 2>"$work/daily.err"
  python3 - "$work" "$as_of" <<'PY'
import json, re, sys
work, as_of = sys.argv[1], sys.argv[2]
def same(a, b, path="report"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a: same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)): same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300), (path, a, b)
    else:
        assert a == b, (path, a, b)
same(json.load(open(f"{work}/full.json")), json.load(open(f"{work}/daily.json")))
t = {k: open(f"{work}/t.{k}").read().split() for k in ("full", "backfill", "daily")}
reused = re.search(r"(\d+) read from the state", open(f"{work}/daily.err").read()).group(1)
mb = lambda kb: f"{int(kb) // 1024:,} MB"
print(f"| {as_of} | {t['full'][0]} s | {mb(t['full'][1])} | {t['backfill'][0]} s "
      f"| {t['daily'][0]} s | {mb(t['daily'][1])} | {reused} |")
PY
done
