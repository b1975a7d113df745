#!/usr/bin/env python3
"""The PyTorch peer of bench/bench_cells and bench/bench_pr_lstm: the same train steps in PyTorch
on the CPU, float32, 2 threads.

    .venv/bin/python scripts/torch_peer.py            # the cells: prints "NAME ms" lines
    .venv/bin/python scripts/torch_peer.py --pr 40 500  # PR-LSTM at n = 40 and 500
    .venv/bin/python scripts/torch_peer.py --pr 40 --only LSTM_loop  # both in one run

One train step = forward, cross-entropy, backward, Adam (PyTorch's defaults), timed as the median
of --steps steps after one warm-up step (as bench/bench_timing.h does).

Cells (B=32, T=256, vocabulary 10,000, E=128, H=128): embedding -> cell -> Linear on the final h.
  LSTM_fused, GRU_fused   PyTorch's built-in nn.LSTM / nn.GRU
  RNN_loop, LSTM_loop, GRU_loop, BiLSTM_loop, QL-LSTM_loop
                          the cells as Python loops of torch ops with tapegrad's equations and
                          fast schedule (models/schedule.h): the input projection of
                          all steps is one product before the loop; each step does h W_hh^T and
                          the gate arithmetic.
PR-LSTM (B=128, H=256, one-hot width 3, R=1): models/pr_lstm.cpp's two-phase schedule (one batched
merge per tree level, then one per prefix group), loss at the last position. Printed as
PRLSTM_<n>.

Every model here computes the same function as its tapegrad twin; scripts/torch_peer_check.py
checks that on checkpoints written by build*/examples/peer_reference. Needs scripts/setup-torch.sh;
never used by `make test`.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sig = torch.sigmoid


# ---- the recurrent cells, as loops of torch ops (models/rnn.h, lstm.h, gru.h) -------------------

class LoopCell(nn.Module):
    """One layer with tapegrad's parameter names: weight_ih [G, D], weight_hh [G, H], bias_ih,
    bias_hh [G], G = gates * H, initialised uniform in ±1/sqrt(H) like PyTorch's cells."""

    def __init__(self, input_size, hidden_size, gates):
        super().__init__()
        self.hidden_size = hidden_size
        g = gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g))
        self.bias_hh = nn.Parameter(torch.empty(g))
        bound = hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        """x [B, T, D] -> (outputs [B, T, H], final h, final c or None)."""
        batch = x.shape[0]
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size) if self.has_cell_state else None
        # The input projection of all steps [B, T, G], made [T, B, G] (contiguous steps, as
        # tapegrad's transpose) and cut into T steps [B, G]. unbind, not projected[t]: the backward
        # of one unbind stacks the step gradients once, where T indexing ops would each add a
        # zero-filled [T, B, G] gradient.
        projected = F.linear(x, self.weight_ih, self.bias_ih).transpose(0, 1).contiguous().unbind(0)
        outputs = []
        for x_t in projected:
            h, c = self.step(x_t, h, c)
            outputs.append(h)
        return torch.stack(outputs, 1), h, c


class RnnLoop(LoopCell):
    has_cell_state = False

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 1)

    def step(self, x_t, h, c):
        # h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
        return torch.tanh(x_t + F.linear(h, self.weight_hh, self.bias_hh)), None


class LstmLoop(LoopCell):
    has_cell_state = True

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 4)

    def step(self, x_t, h, c):
        # [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh; c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c')
        i, f, g, o = (x_t + F.linear(h, self.weight_hh, self.bias_hh)).chunk(4, 1)
        c = sig(f) * c + sig(i) * torch.tanh(g)
        return sig(o) * torch.tanh(c), c


class GruLoop(LoopCell):
    has_cell_state = False

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size, 3)

    def step(self, x_t, h, c):
        # r = σ(r_x + r_h); z = σ(z_x + z_h); n = tanh(n_x + r n_h); h' = n + z (h - n)
        xr, xz, xn = x_t.chunk(3, 1)
        hr, hz, hn = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, 1)
        r = sig(xr + hr)
        z = sig(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n + z * (h - n), None


class BiLstmLoop(nn.Module):
    """A forward and a backward LSTM (the backward one reads the sequence reversed); outputs
    concatenated [B, T, 2H]."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.forward_lstm = LstmLoop(input_size, hidden_size)
        self.backward_lstm = LstmLoop(input_size, hidden_size)

    def forward(self, x):
        out_f, h_f, c_f = self.forward_lstm(x)
        out_b, h_b, c_b = self.backward_lstm(x.flip(1))
        return torch.cat([out_f, out_b.flip(1)], 2), (h_f, c_f), (h_b, c_b)


class QlLstmLoop(nn.Module):
    """QL-LSTM, our reading (docs/QL-LSTM.md), with tapegrad's default options: PSUG with gate
    scales, HGR-ASC with K-step blocks, mean pool, block recurrence V_s, additive skip.

      z_t = W x_t + U h_{t-1};  gate_k = act_k(a_k z + b_k), k = i, f, o (σ), g (tanh)
      c_t = f c_{t-1} + i g;    h_t = o tanh(c_t)
      at the end of each block (every K steps, and the last step of a final partial block):
        m = mean of the block's h;  s = tanh(W_s m + V_s s_prev + b_s);  c <- c + s;  h <- o tanh(c)

    Unlike models/ql_lstm.cpp this peer has no lengths: without padding every sequence ends its
    blocks at the same steps, so tapegrad's per-sequence blend c + e (skipped - c) with e = 1 is
    simply c + s here.
    """

    gate_names = ("i", "f", "o", "g")

    def __init__(self, input_size, hidden_size, block_size=16):
        super().__init__()
        H, bound = hidden_size, hidden_size ** -0.5
        self.hidden_size, self.block_size = H, block_size
        self.weight = nn.Parameter(torch.empty(H, input_size).uniform_(-bound, bound))
        self.recurrent_weight = nn.Parameter(torch.empty(H, H).uniform_(-bound, bound))
        for k in self.gate_names:
            self.register_parameter("bias_" + k, nn.Parameter(torch.full((H,), 1.0 if k == "f" else 0.0)))
            self.register_parameter("scale_" + k, nn.Parameter(torch.empty(H).uniform_(0.5, 1.5)))
        self.summary_weight = nn.Parameter(torch.empty(H, H).uniform_(-bound, bound))
        self.summary_bias = nn.Parameter(torch.zeros(H))
        self.summary_recurrent = nn.Parameter(torch.empty(H, H).uniform_(-bound, bound))

    def forward(self, x):
        batch, steps, H, K = x.shape[0], x.shape[1], self.hidden_size, self.block_size
        h, c, summary = (x.new_zeros(batch, H) for _ in range(3))
        scales = [getattr(self, "scale_" + k) for k in self.gate_names]
        biases = [getattr(self, "bias_" + k) for k in self.gate_names]
        projected = F.linear(x, self.weight).transpose(0, 1).contiguous().unbind(0)  # W x, T times [B, H]
        outputs, block = [], []
        for t, x_t in enumerate(projected):
            z = x_t + F.linear(h, self.recurrent_weight)
            i, f, o = (sig(z * scales[k] + biases[k]) for k in range(3))
            g = torch.tanh(z * scales[3] + biases[3])
            c = f * c + i * g
            h = o * torch.tanh(c)
            block.append(h)
            if (t + 1) % K == 0 or t == steps - 1:
                pooled = torch.stack(block, 1).mean(1)
                summary = torch.tanh(F.linear(pooled, self.summary_weight, self.summary_bias)
                                     + F.linear(summary, self.summary_recurrent))
                c = c + summary
                h = o * torch.tanh(c)
                block = []
            outputs.append(h)
        return torch.stack(outputs, 1), h, c


# ---- PR-LSTM (models/pr_lstm.cpp) -------------------------------------------------------------

def lowest_bit(v):
    return v & -v


class PrLstm(nn.Module):
    """PR-LSTM (docs/PR-LSTM.md), R refinements, with the parameter names of models/pr_lstm.h
    (leaf.*, merge.*, refine.{r}.*, readout.*) and haiku's initialisation."""

    def __init__(self, input_size, hidden_size, output_size, refinements=1):
        super().__init__()
        H = hidden_size
        self.hidden_size = H
        self.leaf = nn.Linear(input_size, 3 * H)
        self.merge = nn.Linear(2 * H, 5 * H)
        self.refine = nn.ModuleList(nn.Linear(H, 4 * H) for _ in range(refinements))
        self.readout = nn.Linear(H, output_size)
        for layer in [self.leaf, self.merge, *self.refine, self.readout]:
            nn.init.trunc_normal_(layer.weight, std=layer.weight.shape[1] ** -0.5,
                                  a=-2 * layer.weight.shape[1] ** -0.5, b=2 * layer.weight.shape[1] ** -0.5)
            nn.init.zeros_(layer.bias)
        self.merge_calls = 0

    def leaves(self, x):
        # [a_i; a_g; a_o] = W_leaf x + b; c = σ(a_i) tanh(a_g); h = σ(a_o) tanh(c)
        i, g, o = self.leaf(x).chunk(3, -1)
        c = sig(i) * torch.tanh(g)
        return sig(o) * torch.tanh(c), c

    def merge_pairs(self, h_pairs, c_left, c_right):
        """M = U_{R-1} ∘ ... ∘ U_0 ∘ B on h_pairs = [h_L; h_R] [B, m, 2H]: one GEMM per stage."""
        self.merge_calls += 1
        i, g, o, f_l, f_r = self.merge(h_pairs).chunk(5, -1)
        c = sig(i) * torch.tanh(g) + sig(f_l) * c_left + sig(f_r) * c_right
        h = sig(o) * torch.tanh(c)
        for refine in self.refine:
            i, g, o, f = refine(h).chunk(4, -1)
            c = sig(i) * torch.tanh(g) + sig(f) * c
            h = sig(o) * torch.tanh(c)
        return h, c

    def merge_states(self, left, right):
        return self.merge_pairs(torch.cat([left[0], right[0]], -1), left[1], right[1])

    def prefix_states(self, x):
        """All prefix states (h, c), each [B, n, H], with jax.lax.associative_scan's bracketing,
        in models/pr_lstm.cpp's schedule: per-level merges of aligned blocks, then prefix groups."""
        self.merge_calls = 0
        batch, n, H = x.shape[0], x.shape[1], self.hidden_size
        level = [self.leaves(x)]  # level[k]: the aligned blocks of 2^k leaves, [B, n // 2^k, H]
        k = 1
        while (1 << k) <= n:
            h, c = level[-1]
            pairs = h.shape[1] // 2
            h, c = h[:, :2 * pairs], c[:, :2 * pairs]  # an odd last block is left out
            c_left, c_right = c.reshape(batch, pairs, 2 * H).chunk(2, -1)
            level.append(self.merge_pairs(h.reshape(batch, pairs, 2 * H), c_left, c_right))
            k += 1

        # Where each prefix lives: (piece, position). Pieces: level a (for t+1 = 2^a), then groups.
        pieces, where = [], [None] * n
        for a in range(len(level)):
            pieces.append(level[a])
            where[(1 << a) - 1] = (a, 0)
        for a in range(len(level) - 1, -1, -1):
            size = 1 << a
            by_source = {}
            for t in range(n):
                if lowest_bit(t + 1) == size and t + 1 != size:
                    by_source.setdefault(where[t - size][0], []).append(t)
            if not by_source:
                continue
            lefts, order, right_positions = [], [], []
            for source in sorted(by_source):
                positions = []
                for t in by_source[source]:
                    positions.append(where[t - size][1])
                    right_positions.append((t + 1) // size - 1)
                    order.append(t)
                index = torch.tensor(positions)
                lefts.append(tuple(s.index_select(1, index) for s in pieces[source]))
            left = tuple(torch.cat(parts, 1) if len(parts) > 1 else parts[0] for parts in zip(*lefts))
            index = torch.tensor(right_positions)
            pieces.append(self.merge_states(left, tuple(s.index_select(1, index) for s in level[a])))
            for i, t in enumerate(order):
                where[t] = (len(pieces) - 1, i)

        offsets = [0]
        for piece in pieces[:-1]:
            offsets.append(offsets[-1] + piece[0].shape[1])
        gather = torch.tensor([offsets[p] + i for p, i in where])
        return tuple(torch.cat(parts, 1).index_select(1, gather) for parts in zip(*pieces))

    def forward(self, x):
        """x [B, n, V+1] -> logits [B, n, O] at every position."""
        h, _ = self.prefix_states(x)
        return self.readout(torch.relu(h))


# ---- timing -----------------------------------------------------------------------------------

def median_ms(step, steps):
    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def train_step(modules, loss_fn):
    params = [p for m in modules for p in m.parameters()]
    adam = torch.optim.Adam(params)

    def step():
        adam.zero_grad()
        loss_fn().backward()
        adam.step()
    return step


B, T, VOCAB, E, H, CLASSES = 32, 256, 10000, 128, 128, 2


def cell_models():
    """{name: (modules, loss function)} for the cell benchmark."""
    torch.manual_seed(1)
    ids = torch.randint(VOCAB, (B, T))
    labels = torch.randint(CLASSES, (B,))
    embedding = nn.Embedding(VOCAB, E)
    head, head2 = nn.Linear(H, CLASSES), nn.Linear(2 * H, CLASSES)
    lstm, gru = nn.LSTM(E, H, batch_first=True), nn.GRU(E, H, batch_first=True)
    loops = {"RNN_loop": RnnLoop(E, H), "LSTM_loop": LstmLoop(E, H), "GRU_loop": GruLoop(E, H),
             "QL-LSTM_loop": QlLstmLoop(E, H)}
    bilstm = BiLstmLoop(E, H)

    def loss(logits):
        return F.cross_entropy(logits, labels)

    models = {
        "LSTM_fused": ([embedding, lstm, head], lambda: loss(head(lstm(embedding(ids))[1][0][-1]))),
        "GRU_fused": ([embedding, gru, head], lambda: loss(head(gru(embedding(ids))[1][-1]))),
    }
    for name, cell in loops.items():
        models[name] = ([embedding, cell, head], lambda cell=cell: loss(head(cell(embedding(ids))[1])))

    def bilstm_loss():
        _, (h_f, _), (h_b, _) = bilstm(embedding(ids))
        return loss(head2(torch.cat([h_f, h_b], 1)))
    models["BiLSTM_loop"] = ([embedding, bilstm, head2], bilstm_loss)
    return models


def pr_lstm_step(n):
    batch, hidden, width, classes = 128, 256, 3, 2
    torch.manual_seed(0)
    model = PrLstm(width, hidden, classes)
    x = F.one_hot(torch.randint(width, (batch, n)), width).float()
    targets = torch.randint(classes, (batch,))
    return train_step([model], lambda: F.cross_entropy(model(x)[:, n - 1], targets))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pr", type=int, nargs="+", metavar="N",
                        help="time PR-LSTM at these lengths instead of the cells (also the --only cells, if given)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 5; 2 for PR-LSTM at n > 100)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these cell models (e.g. LSTM_loop)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU", flush=True)
    if args.pr:
        for n in args.pr:
            ms = median_ms(pr_lstm_step(n), args.steps or (2 if n > 100 else 5))
            print(f"PRLSTM_{n} {ms:.1f}", flush=True)
        if not args.only:
            return
    for name, (modules, loss_fn) in cell_models().items():
        if args.only and name not in args.only:
            continue
        print(f"{name} {median_ms(train_step(modules, loss_fn), args.steps or 5):.1f}", flush=True)


if __name__ == "__main__":
    main()
