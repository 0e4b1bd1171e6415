#!/usr/bin/env bash
# The GPU check: `blendlab bench inference` with every layer offloaded, on a machine with an
# NVIDIA GPU, Python with PyTorch (whose wheels bring libcudart.so.13 and libcublas.so.13), no
# Rust toolchain and no network. docs/benchmarks.md, "GPU", says how to run it and what it found.
#
#   scripts/gpu-check.sh pack          here, after `make cuda`: writes .gpu-check/ (git-ignored)
#   scripts/gpu-check.sh run [DIR]     there, in the repository root with .gpu-check/ beside it:
#                                      writes the results into DIR (default $OUT, else gpu-check-out)
#
# What travels to such a machine is limited (64 MiB a call), and the bundled model alone is
# 240 MB. So .gpu-check/ holds the binary and llama.cpp's libraries (stripped, xz), the model's
# skeleton (its metadata and tokenizer, no weights: scripts/gguf_stand_in.py) and the gguf-py
# wheel; `run` generates a model of the same architecture with random weights there, in seconds.
# BLENDLAB_MODEL, if set there, names a real model to use instead.
#
# `run` ends within 8 minutes: the bench is given 6 (BLENDLAB_GPU_BENCH_TIMEOUT_S) and what it
# printed is kept either way.
set -euo pipefail
cd "$(dirname "$0")/.."
pack_dir=.gpu-check
gguf_wheel_version=0.19.0
# What one call of the device tool carries: 64 MiB in all, the repository's own files included.
call_limit_bytes=$((64 * 1024 * 1024))

pack() {
  local build=target/cuda/release
  bash scripts/verify-cuda-binary.sh "$build"
  rm -rf "$pack_dir" && mkdir -p "$pack_dir/stage"
  cp "$build/blendlab" "$pack_dir/stage/"
  # Each library under the name the loader asks for (its soname), as a plain file.
  local lib soname
  for lib in "$build"/lib*.so; do
    soname="$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
    cp -L "$lib" "$pack_dir/stage/${soname:-$(basename "$lib")}"
  done
  strip --strip-unneeded "$pack_dir/stage/"*
  local site="${BLENDLAB_CACHE:-$HOME/.cache/blendlab}/gguf-py-$gguf_wheel_version"
  if [ ! -f "$site/.complete" ]; then
    python3 -m pip install -q --disable-pip-version-check --target "$site" \
      "gguf==$gguf_wheel_version" numpy pyyaml tqdm >&2
    touch "$site/.complete"
  fi
  local model
  model="$(bash scripts/fetch-model.sh)"
  PYTHONPATH="$site" python3 scripts/gguf_stand_in.py skeleton "$model" "$pack_dir/stage/skeleton.gguf"
  tar -C "$pack_dir/stage" -cf - . | xz -9 -T0 >"$pack_dir/bundle.tar.xz"
  rm -rf "$pack_dir/stage"
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$pack_dir" \
    "gguf==$gguf_wheel_version" >&2
  local bytes tree max_pack_bytes
  bytes="$(du -cb "$pack_dir" | tail -1 | cut -f1)"
  # The tracked files travel too; 1 MiB is left for files a session adds meanwhile.
  tree="$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)"
  max_pack_bytes=$((call_limit_bytes - tree - 1024 * 1024))
  [ "$bytes" -le "$max_pack_bytes" ] || {
    echo "gpu-check pack: $pack_dir is $bytes bytes; with the repository's $tree that is over one call's 64 MiB" >&2
    exit 1
  }
  echo "gpu-check pack: $pack_dir holds $bytes bytes (repository $tree, limit $max_pack_bytes); carry it: run with carry [\"$pack_dir\"]" >&2
}

# The directories holding the CUDA libraries the binary needs: the Python wheels' (PyTorch's)
# first, then a system toolkit's, then the driver's.
cuda_library_path() {
  local dirs=()
  while IFS= read -r lib; do dirs+=("$(dirname "$lib")"); done < <(
    python3 -c 'import sys; print("\n".join(p for p in sys.path if p.endswith("-packages")))' |
      while IFS= read -r site; do
        find -L "$site/nvidia" -maxdepth 3 \( -name libcublas.so.13 -o -name libcudart.so.13 \) 2>/dev/null
      done
  )
  for dir in /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$dir" ] && dirs+=("$dir")
  done
  local IFS=:
  echo "${dirs[*]}"
}

run() {
  local out="${1:-${OUT:-gpu-check-out}}"
  local work=/tmp/blendlab-gpu-check
  mkdir -p "$out" && rm -rf "$work" && mkdir -p "$work"
  [ -f "$pack_dir/bundle.tar.xz" ] || { echo "gpu-check run: no $pack_dir/bundle.tar.xz: carry $pack_dir" >&2; exit 1; }
  if command -v xz >/dev/null; then
    xz -dc "$pack_dir/bundle.tar.xz" | tar -C "$work" -xf -
  else
    # An image without xz-utils: Python's lzma reads the same file.
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
      "$pack_dir/bundle.tar.xz" "$work"
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" "$pack_dir"/gguf-*.whl
  export LD_LIBRARY_PATH="$work:$(cuda_library_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  {
    echo "date: $(date -u +%FT%TZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldd "$work/blendlab"
  } >"$out/environment.txt" 2>&1
  if grep -q '=> not found' "$out/environment.txt"; then
    echo "gpu-check run: libraries missing, see environment.txt:" >&2
    grep '=> not found' "$out/environment.txt" >&2
    exit 1
  fi
  local model="${BLENDLAB_MODEL:-}"
  if [ -z "$model" ]; then
    model="$work/stand-in.gguf"
    PYTHONPATH="$work/site" python3 scripts/gguf_stand_in.py generate "$work/skeleton.gguf" "$model"
  fi
  local status=0
  BLENDLAB_MODEL="$model" timeout "${BLENDLAB_GPU_BENCH_TIMEOUT_S:-360}" \
    "$work/blendlab" bench inference --gpu-layers 999 --streams 1,2,4,8,16,32,64 --json \
    >"$out/bench-inference-gpu.json" 2>"$out/bench-inference-gpu.log" || status=$?
  tail -n 40 "$out/bench-inference-gpu.log"
  echo "gpu-check run: bench exit status $status; results in $out" >&2
  return "$status"
}

case "${1:-}" in
  pack) pack ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh pack | run [DIR]" >&2; exit 2 ;;
esac
