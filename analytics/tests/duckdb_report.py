#!/usr/bin/env python3
"""The metric definitions of docs/architecture.md in DuckDB SQL, independent of the polars pipeline.

Usage: duckdb_report.py DATA_DIR EXPERIMENT AS_OF WINDOW  -> JSON on stdout:
{arm: {"users": n, "days": {k: {"eligible", "retained", "time_mean", "messages_mean"}},
       "messages", "conversations", "replies"}}
"""
import json
import sys

import duckdb

data, experiment, as_of, window = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(
    f"""
CREATE TEMP TABLE cohorts AS
SELECT user_id, arg_min(arm, assigned_at) AS arm,
       CAST(min(assigned_at) AT TIME ZONE 'UTC' AS DATE) AS d0
FROM read_parquet('{data}/assignments.parquet')
WHERE experiment = ?
GROUP BY user_id
HAVING CAST(min(assigned_at) AT TIME ZONE 'UTC' AS DATE) <= CAST(? AS DATE);
""",
    [experiment, as_of],
)
con.execute(
    f"""
CREATE TEMP TABLE msgs AS
SELECT m.user_id, m.conversation_id, m.role, m.created_at, c.arm, c.d0,
       CAST(m.created_at AT TIME ZONE 'UTC' AS DATE) AS day,
       CAST(m.created_at AT TIME ZONE 'UTC' AS DATE) - c.d0 AS k
FROM read_parquet('{data}/messages.parquet') m JOIN cohorts c USING (user_id)
WHERE CAST(m.created_at AT TIME ZONE 'UTC' AS DATE) <= CAST(? AS DATE)
  AND CAST(m.created_at AT TIME ZONE 'UTC' AS DATE) - c.d0 BETWEEN 0 AND ?;
""",
    [as_of, window],
)
user_days = con.execute(
    """
WITH gaps AS (
  SELECT arm, user_id, k, role,
         epoch_us(created_at) - lag(epoch_us(created_at)) OVER (PARTITION BY user_id, day ORDER BY created_at) AS gap_us
  FROM msgs)
SELECT arm, k, count(*) AS retained, avg(time_s) AS time_mean, avg(user_messages) AS messages_mean
FROM (SELECT arm, user_id, k,
             sum(CASE WHEN gap_us <= 1800000000 THEN gap_us / 1e6 ELSE 0 END) AS time_s,
             sum(CASE WHEN role = 'user' THEN 1 ELSE 0 END) AS user_messages
      FROM gaps GROUP BY arm, user_id, k)
WHERE user_messages > 0
GROUP BY arm, k
"""
).fetchall()
sizes = con.execute("SELECT arm, d0, count(*) FROM cohorts GROUP BY arm, d0").fetchall()
totals = con.execute(
    """SELECT arm, count(*), count(DISTINCT conversation_id), sum(CASE WHEN role = 'assistant' THEN 1 ELSE 0 END)
       FROM msgs GROUP BY arm"""
).fetchall()
as_of_date = con.execute("SELECT CAST(? AS DATE)", [as_of]).fetchone()[0]

out = {}
for arm, d0, n in sizes:
    entry = out.setdefault(arm, {"users": 0, "days": {}, "cohorts": []})
    entry["users"] += n
    entry["cohorts"].append((d0, n))
for arm, entry in out.items():
    for k in range(window + 1):
        eligible = sum(n for d0, n in entry["cohorts"] if (as_of_date - d0).days >= k)
        entry["days"][str(k)] = {"eligible": eligible, "retained": 0, "time_mean": None, "messages_mean": None}
    del entry["cohorts"]
for arm, k, retained, time_mean, messages_mean in user_days:
    out[arm]["days"][str(k)].update(retained=retained, time_mean=time_mean, messages_mean=messages_mean)
for arm, messages, conversations, replies in totals:
    out[arm].update(messages=messages, conversations=conversations, replies=replies)
print(json.dumps(out))
if __import__("os").environ.get("BLENDLAB_REPORT_RSS"):
    import resource

    print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
