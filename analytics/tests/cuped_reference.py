#!/usr/bin/env python3
"""CUPED of docs/architecture.md, independent of the polars pipeline and of the report's cell
arithmetic: DuckDB builds one row per user (arm, active days in the 14 days before d0, the
attributes of the first exposure, the outcomes), and statsmodels fits OLS with HC1 errors.

Usage: cuped_reference.py DATA_DIR EXPERIMENT AS_OF CONTROL ARM -> JSON on stdout:
{"retention": {k: {diff, ci_low, ci_high, p_value, variance_reduction}},
 "user_messages": {k: {...}}, "time_spent": {k: {...}}}
"""
import json
import sys

import duckdb
import numpy as np
import statsmodels.api as sm

data, experiment, as_of, control, arm = sys.argv[1:6]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
attributes = [
    name
    for (name,) in con.execute(
        f"SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{data}/assignments.parquet'))"
    ).fetchall()
    if name.startswith("attr_")
]
first_attributes = "".join(f", arg_min({a}, assigned_at) AS {a}" for a in attributes)
con.execute(
    f"""
CREATE TEMP TABLE cohorts AS
SELECT user_id, arg_min(arm, assigned_at) AS arm,
       CAST(min(assigned_at) AT TIME ZONE 'UTC' AS DATE) AS d0 {first_attributes}
FROM read_parquet('{data}/assignments.parquet')
WHERE experiment = ?
GROUP BY user_id
HAVING CAST(min(assigned_at) AT TIME ZONE 'UTC' AS DATE) <= CAST(? AS DATE);
""",
    [experiment, as_of],
)
con.execute(
    f"""
CREATE TEMP TABLE cohort_messages AS
SELECT m.user_id, CAST(m.created_at AT TIME ZONE 'UTC' AS DATE) AS day, m.role, m.created_at
FROM read_parquet('{data}/messages.parquet') m JOIN cohorts c USING (user_id);
"""
)
con.execute(
    """
CREATE TEMP TABLE pre AS
SELECT c.user_id, count(DISTINCT u.day) AS pre_active_days
FROM cohorts c JOIN cohort_messages u ON u.user_id = c.user_id AND u.role = 'user'
WHERE u.day >= c.d0 - 14 AND u.day < c.d0
GROUP BY c.user_id;
"""
)


def outcomes(k):
    """Per user eligible on day k: the covariates, active (0/1), user messages and time spent."""
    return con.execute(
        f"""
WITH day_messages AS (
  SELECT u.user_id, u.role, u.created_at,
         epoch_us(u.created_at) - lag(epoch_us(u.created_at)) OVER (PARTITION BY u.user_id ORDER BY u.created_at) AS gap
  FROM cohort_messages u JOIN cohorts c USING (user_id)
  WHERE u.day = c.d0 + {k}
), per_user AS (
  SELECT user_id, count(*) FILTER (WHERE role = 'user') AS messages,
         coalesce(sum(gap) FILTER (WHERE gap <= 1800000000), 0) / 1e6 AS time_spent
  FROM day_messages GROUP BY user_id
)
SELECT c.arm, coalesce(p.pre_active_days, 0) AS pre {''.join(f", coalesce(c.{a}, '') AS {a}" for a in attributes)},
       coalesce(d.messages, 0) AS messages, coalesce(d.time_spent, 0) AS time_spent
FROM cohorts c LEFT JOIN pre p USING (user_id) LEFT JOIN per_user d USING (user_id)
WHERE c.d0 + {k} <= CAST(? AS DATE) AND c.arm IN (?, ?)
ORDER BY c.user_id
""",
        [as_of, control, arm],
    ).df()


def fit(frame, y):
    treated = (frame["arm"] == arm).to_numpy(float)
    columns = [np.ones(len(frame)), treated, frame["pre"].to_numpy(float)]
    for a in attributes:
        levels = sorted(frame[a].unique())
        if len(levels) <= 20:
            columns += [(frame[a] == level).to_numpy(float) for level in levels]
    adjusted = sm.OLS(y, np.column_stack(columns)).fit(cov_type="HC1")
    plain = sm.OLS(y, np.column_stack(columns[:2])).fit(cov_type="HC1")
    low, high = adjusted.conf_int(alpha=0.05)[1]
    return dict(
        diff=float(adjusted.params[1]), ci_low=float(low), ci_high=float(high),
        p_value=float(adjusted.pvalues[1]),
        variance_reduction=float(1 - adjusted.cov_params()[1, 1] / plain.cov_params()[1, 1]),
    )


result = {"retention": {}, "user_messages": {}, "time_spent": {}}
for k in (1, 3, 7):
    frame = outcomes(k)
    result["retention"][k] = fit(frame, (frame["messages"] > 0).to_numpy(float))
    active = frame[frame["messages"] > 0].reset_index(drop=True)
    result["user_messages"][k] = fit(active, active["messages"].to_numpy(float))
    result["time_spent"][k] = fit(active, active["time_spent"].to_numpy(float))
print(json.dumps(result))
