#!/usr/bin/env python3
"""Checks that the PyTorch peer (scripts/torch_peer.py) computes the same functions as tapegrad:
loads the checkpoints and outputs written by build*/examples/peer_reference into the peer's
models and compares the outputs (float32; max |difference| <= 1e-5).

    build/examples/peer_reference /tmp/peer && .venv/bin/python scripts/torch_peer_check.py /tmp/peer

Also checks PyTorch's built-in nn.RNN, nn.LSTM and nn.GRU on tapegrad's RNN, LSTM and GRU weights
(the fused peers of the benchmark). Needs scripts/setup-torch.sh; not used by `make test`.
Exits 1 on any mismatch.
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer as peer  # noqa: E402

TOLERANCE = 1e-5


def with_prefix(params, prefix):
    """The tensors under `prefix`, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def builtin(cls, params):
    """nn.RNN / nn.LSTM / nn.GRU with tapegrad's layers.0.* weights (names weight_ih_l0 etc.)."""
    layer = with_prefix(params, "layers.0.")
    module = cls(layer["weight_ih"].shape[1], layer["weight_hh"].shape[1], batch_first=True)
    module.load_state_dict({k + "_l0": v for k, v in layer.items()}, strict=True)
    return module


def loop(cls, params):
    layer = with_prefix(params, "layers.0.")
    module = cls(layer["weight_ih"].shape[1], layer["weight_hh"].shape[1])
    module.load_state_dict(layer, strict=True)
    return module


def run_model(name, params, x):
    """{output name: tensor} of the peer's model `name` on x, named as peer_reference writes them."""
    if name in ("rnn", "lstm", "gru"):
        cls = {"rnn": peer.RnnLoop, "lstm": peer.LstmLoop, "gru": peer.GruLoop}[name]
        output, h, c = loop(cls, params)(x)
        out = {"output": output, "h.0": h}
        if c is not None:
            out["c.0"] = c
        return out
    if name == "bilstm":
        forward = with_prefix(params, "forward.layers.0.")
        model = peer.BiLstmLoop(forward["weight_ih"].shape[1], forward["weight_hh"].shape[1])
        model.forward_lstm.load_state_dict(forward, strict=True)
        model.backward_lstm.load_state_dict(with_prefix(params, "backward.layers.0."), strict=True)
        output, (h_f, c_f), (h_b, c_b) = model(x)
        return {"output": output, "h.0": h_f, "c.0": c_f, "h.1": h_b, "c.1": c_b}
    if name == "ql_lstm":
        model = peer.QlLstmLoop(params["weight"].shape[1], params["weight"].shape[0])
        model.load_state_dict(params, strict=True)
        output, h, c = model(x)
        return {"output": output, "h.0": h, "c.0": c}
    if name == "pr_lstm":
        refinements = len({k for k in params if k.startswith("refine.")}) // 2
        model = peer.PrLstm(params["leaf.weight"].shape[1], params["readout.weight"].shape[1],
                            params["readout.weight"].shape[0], refinements)
        model.load_state_dict(params, strict=True)
        h, c = model.prefix_states(x)
        return {"h": h, "c": c, "logits": model(x)}
    raise ValueError(name)


def run_builtin(name, params, x):
    """The built-in fused module on the same weights."""
    if name == "lstm":
        output, (h, c) = builtin(nn.LSTM, params)(x)
        return {"output": output, "h.0": h[0], "c.0": c[0]}
    output, h = builtin({"rnn": nn.RNN, "gru": nn.GRU}[name], params)(x)
    return {"output": output, "h.0": h[0]}


def compare(label, got, expected):
    ok = True
    for key, want in expected.items():
        if key == "x":
            continue
        have = got[key]
        if have.shape != want.shape:
            print(f"{label} {key}: shape {list(have.shape)}, tapegrad {list(want.shape)}: MISMATCH")
            ok = False
            continue
        diff = (have - want).abs().max().item()
        verdict = "ok" if diff <= TOLERANCE else "MISMATCH"
        print(f"{label} {key} {list(want.shape)}: max |torch - tapegrad| = {diff:.2e} ({verdict})")
        ok &= diff <= TOLERANCE
    return ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    directory = sys.argv[1]
    torch.set_num_threads(2)
    ok = True
    with torch.no_grad():
        for name in ("rnn", "lstm", "gru", "bilstm", "ql_lstm", "pr_lstm"):
            params = load_file(os.path.join(directory, name + ".safetensors"))
            expected = load_file(os.path.join(directory, name + "_io.safetensors"))
            ok &= compare(f"{name} (loop of torch ops)", run_model(name, params, expected["x"]), expected)
            if name in ("rnn", "lstm", "gru"):
                ok &= compare(f"{name} (built-in nn.{name.upper()})", run_builtin(name, params, expected["x"]), expected)
    print("all outputs agree within %.0e" % TOLERANCE if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
