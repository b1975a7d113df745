#!/usr/bin/env bash
# Adds JAX (CPU: jax with its jaxlib) and dm-haiku to .venv/, the virtualenv scripts/setup-torch.sh
# makes, for the JAX peer of bench/bench_pr_lstm (scripts/jax_pr_lstm.py, checked by
# scripts/jax_peer_check.py). Optional: `make test` never needs it. Idempotent: when .venv/ already
# imports jax and haiku it only says so. Creates .venv/ when it is not there (torch is not needed).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
versions() { "$venv/bin/python" -c 'import jax, haiku; print("jax", jax.__version__, "dm-haiku", haiku.__version__)'; }
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import jax, haiku, safetensors" 2>/dev/null; then
    echo "setup-jax: $venv has $(versions)"
    exit 0
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# PyPI's plain `jax` pulls the CPU jaxlib; safetensors and numpy read the check's checkpoints.
"$venv/bin/pip" install jax dm-haiku safetensors numpy
echo "setup-jax: $venv has $(versions)"
