#!/usr/bin/env bash
# Creates .venv/ with PyTorch (CPU is all we use) and safetensors, for the PyTorch peer of the
# benchmarks (scripts/torch_peer.py, scripts/torch_peer_check.py). Optional: `make test` never
# needs it. Idempotent: when .venv/ already imports torch it only says so.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import torch, safetensors" 2>/dev/null; then
    echo "setup-torch: $venv has torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
    exit 0
fi

python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip

# The CPU-only wheels are much smaller; use their index when it can be reached, else plain PyPI
# (whose Linux wheel also carries the CUDA libraries; the peer still runs on the CPU).
cpu_index=https://download.pytorch.org/whl/cpu
if curl -fsS --max-time 15 -o /dev/null "$cpu_index/torch/"; then
    echo "setup-torch: installing CPU-only torch from $cpu_index"
    "$venv/bin/pip" install torch --index-url "$cpu_index"
else
    echo "setup-torch: $cpu_index is unreachable; installing torch from PyPI"
    "$venv/bin/pip" install torch
fi
"$venv/bin/pip" install safetensors numpy
echo "setup-torch: $venv has torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
