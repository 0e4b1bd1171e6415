#!/usr/bin/env bash
# Python packages the tests call: independent oracles (DuckDB for the report's counts) and
# real clients (the official `openai` package). statsmodels re-fits CUPED from DuckDB's per-user
# table in analytics/tests/cuped_reference.py.
# Installed only when missing. The statistics vectors are committed; regenerating them needs
# `pip install scipy statsmodels gbstats` (see analytics/vectors/stats_vectors.py).
set -euo pipefail
if ! python3 -c "import duckdb" 2>/dev/null; then
  echo "installing duckdb from PyPI" >&2
  python3 -m pip install -q --disable-pip-version-check duckdb >&2
fi
if ! python3 -c "import statsmodels" 2>/dev/null; then
  echo "installing statsmodels (OLS with HC1 errors checks the report's CUPED end to end) from PyPI" >&2
  python3 -m pip install -q --disable-pip-version-check statsmodels >&2
fi
if ! python3 -c "import openai" 2>/dev/null; then
  echo "installing openai (the official client the OpenAI-compatibility tests drive) from PyPI" >&2
  python3 -m pip install -q --disable-pip-version-check openai >&2
fi
if ! python3 -c "import prometheus_client" 2>/dev/null; then
  echo "installing prometheus-client (its parser checks /metrics) from PyPI" >&2
  python3 -m pip install -q --disable-pip-version-check prometheus-client >&2
fi
# Pinned: its CLI flags changed between majors, and the OpenAPI test passes them.
if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '4.32.5')" 2>/dev/null; then
  echo "installing schemathesis 4.32.5 (fuzzes the API from /openapi.json) from PyPI" >&2
  python3 -m pip install -q --disable-pip-version-check schemathesis==4.32.5 >&2
fi
