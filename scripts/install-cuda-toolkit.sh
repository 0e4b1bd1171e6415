#!/usr/bin/env bash
# Puts a CUDA toolkit from PyPI wheels into the cache when it is missing, and prints its root.
# This machine kind has no GPU and Debian carries no CUDA packages; NVIDIA publishes the compiler,
# runtime, CCCL headers and cuBLAS as wheels. `pip install --target` lays them out as one tree
# (nvidia/cu13/{bin,include,lib,nvvm}); the links and the driver stub below make it the layout
# CMake's FindCUDAToolkit expects of /usr/local/cuda.
#
# The versions are CUDA 13.0's, matching the driver of the H200 machines this targets (580,
# CUDA 13.0) and the cuBLAS their PyTorch ships, so the binary runs against the libraries there.
# Override with BLENDLAB_CUDA_VERSION (nvcc, nvvm, crt), BLENDLAB_CUDART_VERSION,
# BLENDLAB_CCCL_VERSION and BLENDLAB_CUBLAS_VERSION.
set -euo pipefail
nvcc_version="${BLENDLAB_CUDA_VERSION:-13.0.88}"
cudart_version="${BLENDLAB_CUDART_VERSION:-13.0.88}"
cccl_version="${BLENDLAB_CCCL_VERSION:-13.0.85}"
cublas_version="${BLENDLAB_CUBLAS_VERSION:-13.0.2.14}"
cache="${BLENDLAB_CUDA_CACHE:-$HOME/.cache/blendlab/cuda}"
prefix="$cache/$nvcc_version-rt$cudart_version-cccl$cccl_version-cublas$cublas_version"
root="$prefix/nvidia/cu13"

if [ ! -f "$prefix/.complete" ]; then
  echo "installing the CUDA $nvcc_version toolkit wheels into $prefix (~1 GB)" >&2
  rm -rf "$prefix"
  mkdir -p "$prefix"
  python3 -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$prefix" \
    "nvidia-cuda-nvcc==$nvcc_version" "nvidia-nvvm==$nvcc_version" "nvidia-cuda-crt==$nvcc_version" \
    "nvidia-cuda-runtime==$cudart_version" "nvidia-cuda-cccl==$cccl_version" \
    "nvidia-cublas==$cublas_version" >&2
  # The wheels ship only versioned shared objects; a link needs the unversioned names.
  for lib in cudart cublas cublasLt; do
    ln -sf "lib$lib.so.13" "$root/lib/lib$lib.so"
  done
  # CMake looks for lib64/ first on x86-64 and for the CCCL headers beside the others.
  ln -sfn lib "$root/lib64"
  if [ -d "$root/include/cccl" ]; then
    for entry in "$root/include/cccl/"*; do
      ln -sfn "cccl/$(basename "$entry")" "$root/include/$(basename "$entry")"
    done
  fi
  bash "$(dirname "$0")/cuda-driver-stub.sh" "$root" >&2
  touch "$prefix/.complete"
fi
echo "$root"
