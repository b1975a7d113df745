#!/usr/bin/env bash
# Builds the test suites, benchmarks and examples for a GPU machine that lacks this project's Debian
# packages (e.g. a CUDA image without OpenBLAS or Boost), and packs them with the shared libraries
# they need into gpu-carry/pack.tar.xz (about 15 MB). On the GPU machine, from the repository root:
#   mkdir -p /tmp/g && tar xJf gpu-carry/pack.tar.xz -C /tmp/g
#   export LD_LIBRARY_PATH=/tmp/g/lib:/usr/local/cuda/lib64
#   scripts/run-tests.sh /tmp/g/tests/* && /tmp/g/bench/bench_cuda   (examples in /tmp/g/examples)
# Portable code (x86-64-v3, not -march=native) and Hopper GPU code (sm_90) by default;
# CUDA_ARCHS="80 90" for A100s too. cudart and cuBLAS come from the GPU machine's CUDA 13.
set -euo pipefail
cd "$(dirname "$0")/.."
archs=${CUDA_ARCHS:-90}
make -j"$(nproc)" BUILD=build-gpu OPT='-O3 -march=x86-64-v3' CUDA_ARCHS="$archs" build-tests build-benches build-examples
stage=$(mktemp -d)
mkdir -p "$stage/lib" gpu-carry
cp -r build-gpu/tests build-gpu/bench build-gpu/examples "$stage/"
# Every shared library outside glibc, libstdc++ and CUDA itself.
ldd build-gpu/tests/test_cuda | awk '/=>/ {print $3}' |
    grep -v -E 'lib(c|m|dl|pthread|rt|mvec|stdc\+\+|gcc_s|cudart|cublas|cublasLt)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
tar cJf gpu-carry/pack.tar.xz.tmp -C "$stage" .
mv gpu-carry/pack.tar.xz.tmp gpu-carry/pack.tar.xz
rm -rf "$stage"
ls -l gpu-carry/pack.tar.xz
