#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs, if any are missing. Idempotent: when everything
# is installed it only checks, and says so. Called by `make run`, `make test`, `make bench`,
# `make docs` and `make fuzz`.
set -euo pipefail

packages=(
    g++ make pkg-config
    cmake                                 # `make test` builds examples/external with find_package(tapegrad)
    libopenblas-dev libopenblas0-pthread  # BLAS, set to one thread: tapegrad's own threads call it
    libxsmm-dev                           # small matrix products, JIT-compiled for the running CPU
    libblis-serial-dev libblis4-serial    # BLIS: only bench/bench_gemm times it against the others
    libboost-test-dev                     # Boost.Test for tests/
    libfmt-dev                            # error messages and printouts
    libjemalloc-dev                       # fast malloc for the tape's many small objects
    nlohmann-json3-dev                    # safetensors headers (checkpoints)
    libcli11-dev                          # command-line options of the programs
    zlib1g-dev                            # reading gzipped data sets
    gnuplot-nox graphviz                  # plots and tape pictures made by the examples
    clang libclang-rt-dev                 # `make fuzz`: clang++ and its libFuzzer runtime
    doxygen                               # `make docs`: the API reference
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all required packages are installed"
    exit 0
fi

echo "setup: installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
