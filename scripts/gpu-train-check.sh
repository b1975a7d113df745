#!/usr/bin/env bash
# tapegrad-train on a GPU machine (docs/GPU.md): builds, runs the driver's tests, trains on the GPU
# (--device cuda) and checks resume there, and measures GPU training tokens/s on both tasks.
# Meanwhile the CPU cores run the Transformer's reduced-protocol formal runs in parallel (one
# single-threaded process per task), since those are the slowest part of scripts/run-experiments.sh.
#   OUT=dir IMDB_DIR=dir scripts/gpu-train-check.sh
# IMDB_DIR: a folder holding the unpacked https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
# (docs/RESULTS.md, "The data"); the default is where this project's machines keep a copy.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check}
IMDB_DIR=${IMDB_DIR:-../shared/data/imdb}
mkdir -p "$OUT"
log() { echo "== $*"; }
log "build $(date +%T)"
make -j"$(nproc)" CUDA_ARCHS=90 build/examples/tapegrad-train build/tests/test_train >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
T=build/examples/tapegrad-train
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"

log "CPU side job: Transformer, reduced protocol, 15 tasks in parallel $(date +%T)"
for task in even_pairs modular_arithmetic parity_check cycle_navigation stack_manipulation reverse_string \
            modular_arithmetic_brackets solve_equation duplicate_string missing_duplicate_string odds_first \
            binary_addition binary_multiplication compute_sqrt bucket_sort; do
    d=$OUT/formal/transformer/$task
    mkdir -p "$d"
    TAPEGRAD_NUM_THREADS=1 $T --out "$d" --task $task --model transformer --protocol reduced --log-every 100 \
        --progress lines >"$d/stdout.txt" 2>&1 &
done

log "driver tests $(date +%T)"
TAPEGRAD_NUM_THREADS=1 build/tests/test_train 2>&1 | tail -2

log "GPU: LSTM on parity_check, reduced protocol with H=256, 2,000 steps $(date +%T)"
$T --device cuda --task parity_check --model lstm --protocol reduced --hidden 256 --out "$OUT/gpu-parity-lstm" \
    --progress lines --log-every 500 2>&1 | tail -12

log "GPU: resume identical (40 steps vs 20 + 20, Transformer with dropout) $(date +%T)"
a="--device cuda --task bucket_sort --model transformer --transformer-layers 1 --no-eval --progress lines"
$T $a --steps 40 --out "$OUT/r-whole" >/dev/null && $T $a --steps 20 --out "$OUT/r-parts" >/dev/null &&
    $T $a --steps 40 --out "$OUT/r-parts" --resume "$OUT/r-parts/checkpoint.safetensors" >/dev/null &&
    cmp "$OUT/r-whole/checkpoint.safetensors" "$OUT/r-parts/checkpoint.safetensors" && echo "GPU resume: identical"

log "GPU tokens/s: formal length 40 (B=32, H=64) and IMDB L=512 (E=H=64, B=32) $(date +%T)"
for m in rnn lstm gru bilstm qllstm prlstm transformer; do
    $T --device cuda --task parity_check --model $m --protocol reduced --min-train-length 40 --max-train-length 40 \
        --steps 100 --no-eval --progress lines --log-every 100 --out "$OUT/tp-f-$m" | grep "tokens/s (training)" | sed "s/^/formal $m /"
done
for m in lstm gru bilstm qllstm prlstm transformer; do
    $T --device cuda --task imdb --data-dir "$IMDB_DIR" --model $m --max-length 512 --embed 64 --hidden 64 \
        --transformer-layers 2 --train-subset 2000 --steps 30 --no-eval --progress lines --log-every 30 \
        --out "$OUT/tp-i-$m" | grep "tokens/s (training)" | sed "s/^/imdb L=512 $m /"
done

log "waiting for the CPU side job $(date +%T)"
wait
log "done $(date +%T)"
grep -h "score (mean" "$OUT"/formal/transformer/*/stdout.txt | wc -l
