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
echo "make cuda: built target/cuda/release/blendlab in $(( $(date +%s) - started )) s" >&2
bash scripts/verify-cuda-binary.sh target/cuda/release
