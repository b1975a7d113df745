#!/usr/bin/env bash
# The GPU check for a machine without this project's Debian packages, from the pack that
# scripts/gpu-pack.sh made here (gpu-carry/pack.tar.xz, carried to that machine with the tree):
#   1. every test suite (the CUDA cases run instead of skipping),
#   2. the GPU benchmarks (bench_cuda),
#   3. tapegrad-train on the GPU: a reduced-protocol PR-LSTM run, resume identical to an
#      uninterrupted run, and training tokens/s of every model at length 40,
#   4. the CPU benchmarks on two otherwise idle cores (taskset), with the PyTorch peer when
#      $TAPEGRAD_PYTHON (default python3) imports torch: a quiet machine for the 2-thread budgets.
# Output: $OUT (default gpu-check/), one file per part. Run from the repository root.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check}
g=/tmp/tapegrad-pack
mkdir -p "$out" "$g"
tar xJf gpu-carry/pack.tar.xz -C "$g" || exit 1
export LD_LIBRARY_PATH=$g/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export TAPEGRAD_PYTHON=${TAPEGRAD_PYTHON:-python3}
log() { echo "== $* ($(date +%T))"; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; lscpu | grep -E 'Model name|^CPU\(s\)'; } |
    tee "$out/device.txt"

log "1. test suites"
scripts/run-tests.sh "$g"/tests/* >"$out/tests.txt" 2>&1
echo "exit $?; $(tail -1 "$out/tests.txt")"

log "2. bench_cuda"
"$g/bench/bench_cuda" >"$out/bench-cuda.txt" 2>&1
cat "$out/bench-cuda.txt"

log "3. tapegrad-train on the GPU"
train=$g/examples/tapegrad-train
{
    "$train" --device cuda --task parity_check --model prlstm --protocol reduced --steps 1000 --max-test-length 60 \
        --out /tmp/gpu-prlstm --progress lines --log-every 250 2>&1 | tail -14
    resume="--device cuda --task bucket_sort --model transformer --transformer-layers 1 --no-eval --progress lines"
    "$train" $resume --steps 40 --out /tmp/r-whole >/dev/null &&
        "$train" $resume --steps 20 --out /tmp/r-parts >/dev/null &&
        "$train" $resume --steps 40 --out /tmp/r-parts --resume /tmp/r-parts/checkpoint.safetensors >/dev/null &&
        cmp /tmp/r-whole/checkpoint.safetensors /tmp/r-parts/checkpoint.safetensors &&
        echo "resume on the GPU: 20 + 20 steps give a checkpoint identical to 40 steps"
    for model in rnn lstm gru bilstm qllstm prlstm transformer; do
        "$train" --device cuda --task parity_check --model $model --protocol reduced --min-train-length 40 \
            --max-train-length 40 --steps 100 --no-eval --progress lines --log-every 100 --out /tmp/tp-$model |
            grep "tokens/s (training)" | sed "s/^/GPU formal length 40, $model: /"
    done
} >"$out/train-gpu.txt" 2>&1
cat "$out/train-gpu.txt"

log "4. CPU benchmarks on cores 0-1 (TAPEGRAD_NUM_THREADS=2)"
TAPEGRAD_NUM_THREADS=2 taskset -c 0,1 "$g/bench/bench_cells" >"$out/bench-cells.txt" 2>&1
TAPEGRAD_NUM_THREADS=2 taskset -c 0,1 "$g/bench/bench_pr_lstm" 40 500 >"$out/bench-pr-lstm.txt" 2>&1
grep -v "^ *backward" "$out/bench-cells.txt" | head -30
cat "$out/bench-pr-lstm.txt"
log "done"
