#!/usr/bin/env bash
# Writes ROOT/lib/stubs/libcuda.so: a link-time stand-in for the CUDA driver library, which only
# a machine with NVIDIA's driver has. llama.cpp's memory pool calls the driver API (cuMemCreate,
# cuMemMap, ...), so the link needs libcuda; NVIDIA's own toolkit ships such a stub, the wheels
# do not. Every function cuda.h declares gets an empty definition under its exported name (the
# header's `#define cuX cuX_v2` aliases resolved by the preprocessor), and the soname is the
# driver's, so at run time the loader binds the real libcuda.so.1 and never sees this file.
set -euo pipefail
root="$1"
stubs="$root/lib/stubs"
mkdir -p "$stubs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -E -P -I"$root/include" "$root/include/cuda.h" \
  | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d ' (' | sort -u \
  | sed 's/.*/void &(void) {}/' >"$work/stub.c"
count="$(wc -l <"$work/stub.c")"
[ "$count" -gt 100 ] || { echo "cuda.h gave only $count driver functions" >&2; exit 1; }
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$work/stub.c"
echo "driver stub: $count functions in $stubs/libcuda.so" >&2
