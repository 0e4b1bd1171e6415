#!/usr/bin/env bash
# Re-runs every test-vector generator in a pinned Python environment and fails if the committed
# JSON differs from what the oracles say today: the vectors stay reproducible from their scripts.
# Values are compared, floats to a relative 1e-12 (scripts/same-vectors.py): linear algebra may
# round the last bits differently on another CPU.
#   bash scripts/check-vectors.sh          # check (make test)
#   bash scripts/check-vectors.sh --write  # regenerate the committed files
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/vectors-requirements.txt
stamp=$(sha256sum "$requirements" | cut -c1-16)
venv="${BLENDLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blendlab}/vectors-$stamp"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "creating the pinned vector environment in $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$requirements" >&2
  touch "$venv/.complete"
fi
python="$venv/bin/python"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# committed file, then the command that writes it to the path given as its last argument
generate() {
  local committed=$1 out=$scratch/$(basename "$1")
  shift
  case "$1" in
    stdout) shift; "$python" "$@" >"$out" ;;
    *) "$python" "$@" "$out" >/dev/null ;;
  esac
  if [ "${write:-}" = 1 ]; then
    cp "$out" "$committed"
    echo "wrote $committed" >&2
  elif ! differences=$(python3 scripts/same-vectors.py "$committed" "$out"); then
    echo "$committed differs from what its generator writes now:" >&2
    echo "$differences" >&2
    failed=1
  fi
}
write=0
[ "${1:-}" = "--write" ] && write=1
failed=0
# Silence warnings the oracles print on purpose (gbstats' e-value overflows to a p-value of 0).
export PYTHONWARNINGS=ignore
generate analytics/vectors/stats.json stdout analytics/vectors/stats_vectors.py
generate analytics/vectors/components.json analytics/vectors/component_vectors.py
generate experiments/vectors/growthbook.json experiments/vectors/growthbook_vectors.py
generate experiments/vectors/turn_draws.json experiments/vectors/turn_draw_vectors.py
generate experiments/vectors/thompson.json experiments/vectors/thompson_vectors.py
[ "$failed" = 0 ] || { echo "regenerate with: bash scripts/check-vectors.sh --write" >&2; exit 1; }
echo "test vectors reproduce from their generators" >&2
