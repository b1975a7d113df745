#!/usr/bin/env bash
# Runs the papers' experiments with the reduced protocol (docs/RESULTS.md), two single-threaded
# nice'd processes at a time, in priority order: formal benchmark RNN and LSTM, IMDB main rows at
# L = 256, PR-LSTM, Transformer, then the IMDB ablations and longer L. A run whose summary.json
# exists is skipped, so the script can be stopped and started again.
#
#   scripts/run-experiments.sh [all|formal|imdb|extended]   (outputs under runs/, logs in runs/*/stdout.txt)
# "extended": 10,000 steps (5x the reduced protocol) for RNN, LSTM and PR-LSTM on the regular tasks
# and bucket_sort, where the papers' recurrent models succeed (run separately, after "all").
#   IMDB_DIR=/path/to/imdb PARALLEL=2 scripts/run-experiments.sh
# IMDB_DIR: a folder holding the unpacked https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
# (docs/RESULTS.md, "The data"); the default is where this project's machines keep a copy.
# Then scripts/make_results.py builds the docs/RESULTS.md tables and the plots.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
PARALLEL=${PARALLEL:-2}
IMDB_DIR=${IMDB_DIR:-../shared/data/imdb}
TRAIN=build/examples/tapegrad-train
make -s build/examples/tapegrad-train >/dev/null

TASKS="even_pairs modular_arithmetic parity_check cycle_navigation stack_manipulation reverse_string
modular_arithmetic_brackets solve_equation duplicate_string missing_duplicate_string odds_first binary_addition
binary_multiplication compute_sqrt bucket_sort"

# One job line: the run folder, then the driver's arguments.
formal() {  # model
    for task in $TASKS; do
        echo "runs/formal/$1/$task --task $task --model $1 --protocol reduced --log-every 100 --progress lines"
    done
}
# The IMDB setup: E = H = 64, 1 epoch over 10,000 training reviews, test on 5,000 (docs/RESULTS.md).
imdb() {  # name, L, model arguments...
    local name=$1 length=$2
    shift 2
    echo "runs/imdb/L$length/$name --task imdb --data-dir $IMDB_DIR --max-length $length --embed 64 --hidden 64" \
         "--epochs 1 --train-subset 10000 --test-subset 5000 --batch-size 32 --lr 3e-3 --log-every 20" \
         "--progress lines $*"
}
imdb_main() {  # L
    imdb lstm "$1" --model lstm
    imdb gru "$1" --model gru
    imdb bilstm "$1" --model bilstm
    imdb qllstm "$1" --model qllstm --ql-k 16
}
imdb_ablations() {  # L
    imdb qllstm-psug-only "$1" --model qllstm --ql-hgr false
    imdb qllstm-hgr-only "$1" --model qllstm --ql-psug false --ql-k 16
    for k in 8 32 64; do imdb "qllstm-k$k" "$1" --model qllstm --ql-k $k; done
}

extended() {  # model
    for task in modular_arithmetic cycle_navigation parity_check even_pairs bucket_sort; do
        echo "runs/formal-10k/$1/$task --task $task --model $1 --protocol reduced --steps 10000 --log-every 250" \
             "--progress lines"
    done
}

# Priority order; from the PR-LSTM runs on, the Transformer's formal runs and the IMDB rows alternate so
# that both make progress when the time runs out.
jobs() {
    if [[ $WHAT == extended ]]; then extended rnn; extended lstm; extended prlstm; return; fi
    if [[ $WHAT != imdb ]]; then formal rnn; formal lstm; fi
    if [[ $WHAT != formal ]]; then imdb_main 256; fi
    if [[ $WHAT != imdb ]]; then formal prlstm; fi
    local imdb_rest=() transformer=()
    if [[ $WHAT != formal ]]; then
        mapfile -t imdb_rest < <(imdb_ablations 256; imdb_main 512; imdb_main 1024; imdb_ablations 512; imdb_ablations 1024)
    fi
    if [[ $WHAT != imdb ]]; then mapfile -t transformer < <(formal transformer); fi
    local i
    for ((i = 0; i < ${#imdb_rest[@]} || i < ${#transformer[@]}; i++)); do
        [[ $i -lt ${#transformer[@]} ]] && echo "${transformer[$i]}"
        [[ $i -lt ${#imdb_rest[@]} ]] && echo "${imdb_rest[$i]}"
    done
    return 0
}

run_one() {  # folder, arguments...
    local dir=${1:-}
    shift || true
    [[ -z $dir || -f $dir/summary.json ]] && return 0
    mkdir -p "$dir"
    mkdir "$dir/.running" 2>/dev/null || return 0  # another invocation is running it
    trap 'rmdir "$dir/.running"' RETURN
    echo "start $dir ($(date +%H:%M:%S))"
    TAPEGRAD_NUM_THREADS=1 nice -n 10 "$TRAIN" --out "$dir" "$@" >"$dir/stdout.txt" 2>&1 || echo "FAILED $dir (see $dir/stdout.txt)"
    echo "done  $dir ($(date +%H:%M:%S))"
}
export -f run_one
export TRAIN
jobs | xargs -P "$PARALLEL" -L 1 bash -c 'run_one "$@"' _
