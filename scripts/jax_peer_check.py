#!/usr/bin/env python3
"""Checks that the JAX peer (scripts/jax_pr_lstm.py) computes tapegrad's PrLstm: loads the weights
and outputs written by build*/examples/peer_reference into the JAX model and compares
  - the prefix states h, c and the logits at every position, float32 (max |difference| <= 1e-5);
  - the loss the bench times (cross-entropy at the last position) and its gradient for every
    parameter, float64 on the same weights (max |difference| <= 1e-10).

    build/examples/peer_reference /tmp/peer && .venv/bin/python scripts/jax_peer_check.py /tmp/peer

Needs scripts/setup-jax.sh; not used by `make test`. Exits 1 on any mismatch.
"""
import os
import sys

import jax
import numpy as np
from safetensors.numpy import load_file

jax.config.update("jax_enable_x64", True)  # the float64 check; float32 inputs still compute in float32

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax_pr_lstm as peer  # noqa: E402

FLOAT32_TOLERANCE, FLOAT64_TOLERANCE = 1e-5, 1e-10


def haiku_name(name):
    """tapegrad's "refine.0.weight" -> haiku's ("refine_0", "w"); weights are [out, in] in tapegrad,
    [in, out] in haiku."""
    module, kind = name.rsplit(".", 1)
    return module.replace(".", "_"), {"weight": "w", "bias": "b"}[kind]


def haiku_params(tensors, dtype):
    params = {}
    for name, value in tensors.items():
        module, kind = haiku_name(name)
        params.setdefault(module, {})[kind] = (value.T if kind == "w" else value).astype(dtype)
    return params


def report(label, have, want, tolerance):
    have, want = np.asarray(have), np.asarray(want)
    if have.shape != want.shape:
        print(f"{label}: shape {list(have.shape)}, tapegrad {list(want.shape)}: MISMATCH")
        return False
    diff = float(np.max(np.abs(have - want)))
    print(f"{label} {list(want.shape)}: max |jax - tapegrad| = {diff:.2e} ({'ok' if diff <= tolerance else 'MISMATCH'})")
    return diff <= tolerance


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    directory = sys.argv[1]
    weights = load_file(os.path.join(directory, "pr_lstm.safetensors"))
    outputs = load_file(os.path.join(directory, "pr_lstm_io.safetensors"))
    reference = load_file(os.path.join(directory, "pr_lstm_loss.safetensors"))
    refinements = len({name for name in weights if name.startswith("refine.")}) // 2
    hidden_size, output_size = weights["readout.weight"].shape[1], weights["readout.weight"].shape[0]
    model = peer.make_model(hidden_size, output_size, refinements)

    # The tapegrad file must fill exactly the parameters the JAX model creates, with their shapes.
    expected = model.init(jax.random.PRNGKey(0), outputs["x"])
    params = haiku_params(weights, np.float32)
    shapes = jax.tree_util.tree_map(lambda a: a.shape, params)
    if shapes != jax.tree_util.tree_map(lambda a: a.shape, expected):
        print(f"parameters differ: tapegrad's {shapes}, the JAX model's {jax.tree_util.tree_map(lambda a: a.shape, expected)}")
        return 1

    ok = True
    h, c, logits = model.apply(params, outputs["x"])
    for label, have in (("h", h), ("c", c), ("logits", logits)):
        ok &= report(f"pr_lstm float32 {label}", have, outputs[label], FLOAT32_TOLERANCE)

    def loss_of(params):
        return peer.cross_entropy_last(model.apply(params, reference["x"])[2], reference["targets"])

    loss, grads = jax.value_and_grad(loss_of)(haiku_params(weights, np.float64))
    print(f"pr_lstm float64 loss: jax {float(loss):.17g}, tapegrad {float(reference['loss']):.17g}")
    ok &= report("pr_lstm float64 loss", loss, reference["loss"], FLOAT64_TOLERANCE)
    for name in weights:
        module, kind = haiku_name(name)
        grad = grads[module][kind]
        ok &= report(f"pr_lstm float64 grad {name}", grad.T if kind == "w" else grad, reference["grad." + name],
                     FLOAT64_TOLERANCE)
    print("JAX and tapegrad agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
