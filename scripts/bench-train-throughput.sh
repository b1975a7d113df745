#!/usr/bin/env bash
# Training throughput of tapegrad-train (real tokens per second, single-threaded) for
# docs/BENCHMARKS.md: every model at length 40 on the formal benchmark (parity_check, batch 32,
# H = 64, 100 steps) and the IMDB models at L = 512 (E = H = 64, batch 32, 30 steps on 2,000
# reviews). Then the PyTorch peer (scripts/torch_train_peer.py) when .venv imports torch.
#   scripts/bench-train-throughput.sh [imdb-dir]
# imdb-dir: a folder holding the unpacked https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
# (docs/RESULTS.md, "The data"); the default is where this project's machines keep a copy.
set -euo pipefail
cd "$(dirname "$0")/.."
IMDB_DIR=${1:-../shared/data/imdb}
make -s build/examples/tapegrad-train >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
tokens() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['tokens_per_second']))" "$1/summary.json"; }
export TAPEGRAD_NUM_THREADS=1
for m in rnn lstm gru bilstm qllstm prlstm prrnn transformer; do
    build/examples/tapegrad-train --task parity_check --model $m --protocol reduced --min-train-length 40 \
        --max-train-length 40 --steps 100 --no-eval --progress lines --log-every 100 --out "$out/f-$m" >/dev/null
    printf 'formal length 40  %-12s %12s tokens/s\n' $m "$(tokens "$out/f-$m")"
done
for m in lstm gru bilstm qllstm prlstm transformer; do
    build/examples/tapegrad-train --task imdb --data-dir "$IMDB_DIR" --model $m --max-length 512 --embed 64 \
        --hidden 64 --transformer-layers 2 --train-subset 2000 --steps 30 --no-eval --progress lines \
        --log-every 30 --out "$out/i-$m" >/dev/null
    printf 'imdb L=512        %-12s %12s tokens/s\n' $m "$(tokens "$out/i-$m")"
done
if [[ -x .venv/bin/python ]] && .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python scripts/torch_train_peer.py "$IMDB_DIR"
else
    echo "PyTorch peer not run: .venv does not import torch"
fi
