#!/usr/bin/env bash
# The one command to run on a GPU machine: builds with CUDA, runs the CUDA test suite
# (every op vs the CPU, gradcheck on the GPU, train steps on both devices) and the GPU
# benchmarks, then prints a summary. Output is also saved under gpu-check/.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p gpu-check
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee gpu-check/device.txt
make -j"$(nproc)" all 2>&1 | tail -5
make test-gpu 2>&1 | tee gpu-check/test-gpu.txt
test_status=${PIPESTATUS[0]}
build/bench/bench_cuda 2>&1 | tee gpu-check/bench-cuda.txt
bench_status=${PIPESTATUS[0]}
echo
echo "== gpu-check summary"
echo "device:     $(cat gpu-check/device.txt)"
echo "tests:      $(grep -E '^tests:' gpu-check/test-gpu.txt | tail -1) (exit $test_status)"
echo "benchmarks: exit $bench_status; figures:"
grep -E "GB/s|ms|us/op|allocations" gpu-check/bench-cuda.txt | sed 's/^/  /'
exit $(( test_status || bench_status ))
