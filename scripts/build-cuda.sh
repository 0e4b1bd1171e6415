#!/usr/bin/env bash
# `make cuda`: builds target/cuda/release/blendlab with llama.cpp's CUDA backend, on a machine
# with no GPU and no system CUDA (the toolkit comes from PyPI wheels, scripts/install-cuda-toolkit.sh).
#
# - BLENDLAB_CUDA_ARCH: the GPU architectures to generate machine code for, CMake's
#   CMAKE_CUDA_ARCHITECTURES syntax; default 90 (H100, H200). For example "90;100" or "89".
# - llama.cpp and ggml are built as shared libraries beside the binary (found through an
#   $ORIGIN run path), so that libggml-cuda.so links the toolkit's libcudart.so.13 and
#   libcublas.so.13 dynamically: the wheels carry no static cuBLAS, and a GPU machine has these
#   libraries already (its PyTorch ships them), so the binary travels without them.
# - The CPU backend is built for x86-64-v3 (AVX2, FMA, F16C, BMI2), not for this machine's CPU:
#   the binary runs on another machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
command -v patchelf >/dev/null || bash scripts/apt-install.sh patchelf
root="$(bash scripts/install-cuda-toolkit.sh)"

export CUDA_PATH="$root" CUDAToolkit_ROOT="$root" PATH="$root/bin:$PATH"
export CMAKE_CUDA_COMPILER="$root/bin/nvcc"
export CMAKE_CUDA_ARCHITECTURES="${BLENDLAB_CUDA_ARCH:-90}"
export LLAMA_BUILD_SHARED_LIBS=1
export GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath,\$ORIGIN"
export CARGO_TARGET_DIR=target/cuda

started=$(date +%s)
cargo build --release --locked --features blendlab-cli/cuda --bin blendlab
# llama-cpp-sys-2 links only the unversioned names beside the binary, and those are symbolic
# links to the versioned files it leaves in its build directory: bring the files themselves.
libs="$(ls -td target/cuda/release/build/llama-cpp-sys-2-*/out/lib | head -1)"
cp -a "$libs"/lib*.so* target/cuda/release/
# The binary's $ORIGIN run path does not reach its libraries' own dependencies (libllama needs
# libggml, which needs libggml-cuda): a RUNPATH is not inherited. Each library gets its own.
for lib in target/cuda/release/lib*.so.*.*; do
  patchelf --set-rpath '$ORIGIN' "$lib"
done
echo "make cuda: built target/cuda/release/blendlab in $(( $(date +%s) - started )) s" >&2
bash scripts/verify-cuda-binary.sh target/cuda/release
