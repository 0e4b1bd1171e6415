#!/usr/bin/env bash
# Checks a CUDA build without a GPU: DIR/blendlab and the llama.cpp libraries beside it load
# libggml-cuda, which links libcudart and libcublas, and holds machine code for every
# architecture asked for (BLENDLAB_CUDA_ARCH, default 90). Prints one line per check.
set -euo pipefail
dir="${1:-target/cuda/release}"
arches="${BLENDLAB_CUDA_ARCH:-90}"
root="$(bash "$(dirname "$0")/install-cuda-toolkit.sh")"
fail() { echo "verify-cuda-binary: $*" >&2; exit 1; }

[ -x "$dir/blendlab" ] || fail "$dir/blendlab is missing: run make cuda"
cuda_lib="$dir/libggml-cuda.so"
[ -f "$cuda_lib" ] || fail "$cuda_lib is missing: the build has no CUDA backend"
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
needed "$dir/blendlab" | grep -q '^libllama\.so' || fail "blendlab does not link libllama.so"
readelf -d "$dir/blendlab" | grep -q 'R\(UN\)\?PATH.*\$ORIGIN' || fail "blendlab has no \$ORIGIN run path"
for lib in libcudart.so.13 libcublas.so.13 libcuda.so.1; do
  needed "$cuda_lib" | grep -qx "$lib" || fail "libggml-cuda.so does not link $lib"
  echo "ok: libggml-cuda.so links $lib"
done
# The libraries the binary loads, resolved the way the loader will (the toolkit's libraries
# standing in for a GPU machine's; the driver's libcuda.so.1 is only there).
missing="$(LD_LIBRARY_PATH="$root/lib" ldd "$dir/blendlab" | grep 'not found' | grep -v libcuda.so.1 || true)"
[ -z "$missing" ] || fail "unresolved libraries: $missing"
echo "ok: every library but the driver's resolves"
LD_LIBRARY_PATH="$root/lib" ldd "$dir/blendlab" | grep -q "libggml-cuda.so.* => $(cd "$dir" && pwd)/" ||
  fail "blendlab does not load the libggml-cuda.so beside it"
echo "ok: blendlab loads the libggml-cuda.so beside it (through \$ORIGIN)"
# cuobjdump is no part of the compiler's wheels; its own wheel starts at 13.2 and reads the
# fatbinaries of any 13.x.
tools="${BLENDLAB_CUDA_CACHE:-$HOME/.cache/blendlab/cuda}/cuobjdump-13.2.51"
if [ ! -x "$tools/nvidia/cu13/bin/cuobjdump" ]; then
  python3 -m pip install -q --disable-pip-version-check --no-deps --target "$tools" \
    nvidia-cuda-cuobjdump==13.2.51 >&2
fi
sass="$("$tools/nvidia/cu13/bin/cuobjdump" --list-elf "$cuda_lib")"
for arch in ${arches//;/ }; do
  arch="${arch%%-*}"
  echo "$sass" | grep -q "sm_${arch}\b" || fail "libggml-cuda.so holds no sm_${arch} code"
  echo "ok: libggml-cuda.so holds sm_${arch} machine code ($(echo "$sass" | grep -c "sm_${arch}\b") ELF images)"
done
