#!/usr/bin/env python3
"""Checks that a safetensors file written by tapegrad opens in Python's `safetensors` package
with the values tapegrad meant.

    scripts/check_safetensors.py FILE.safetensors EXPECTED.json

EXPECTED.json maps each tensor name to {"shape": [...], "values": [...]} (row-major), as written
by `build/examples/checkpoint_roundtrip`. Needs `pip install safetensors numpy`; not used by
`make test`. Exits 1 on any mismatch.
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file


def main() -> int:
    path, expected_path = sys.argv[1], sys.argv[2]
    tensors = load_file(path)
    with open(expected_path) as f:
        expected = json.load(f)
    if set(tensors) != set(expected):
        print(f"names differ: file has {sorted(tensors)}, expected {sorted(expected)}")
        return 1
    for name, want in expected.items():
        got = tensors[name]
        if list(got.shape) != want["shape"] or not np.array_equal(got.reshape(-1), np.array(want["values"], dtype=got.dtype)):
            print(f"{name}: got {got.dtype} {list(got.shape)}, expected {want['shape']} with other values")
            return 1
        print(f"{name}: {got.dtype} {list(got.shape)} identical")
    print(f"{path}: {len(expected)} tensors identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
