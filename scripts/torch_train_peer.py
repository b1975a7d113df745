#!/usr/bin/env python3
"""PyTorch-eager peer of tapegrad-train's training throughput (docs/BENCHMARKS.md).

Trains the same shapes as scripts/bench-train-throughput.sh, single-threaded on the CPU, and
prints real training tokens per second for each model:
  formal: parity_check at length 40 (41 positions with the empty token), one-hot input of size 3,
          batch 32, H = 64, readout at every position, cross-entropy on the last one;
  imdb:   L = 512, E = H = 64, vocabulary 20,002, batch 32, batches of similar length (pools of 50
          batches sorted by length, like data::bucketed_batches), final state at each review's last
          real token (BiLSTM: both directions), padded steps computed as in tapegrad.
Adam lr 1e-3 and clip 1.0 as in the driver. Only torch's built-in cells (RNN, LSTM, GRU, BiLSTM,
Transformer) have a peer: QL-LSTM and PR-LSTM are not in PyTorch.
Usage: .venv/bin/python scripts/torch_train_peer.py [imdb-dir]
imdb-dir holds the unpacked https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz, or its
compact copy train.tsv.gz (docs/RESULTS.md, "The data"); the default is where this project's machines
keep a copy.
"""
import gzip
import os
import random
import re
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.manual_seed(0)
B, H, E = 32, 64, 64


class Net(nn.Module):
    def __init__(self, kind, inputs, outputs, text):
        super().__init__()
        self.kind, self.text = kind, text
        self.embed = nn.Embedding(inputs, E, padding_idx=0) if text else None
        d = E if text else inputs
        if kind == "transformer":
            self.proj = nn.Linear(d, 64)
            layer = nn.TransformerEncoderLayer(64, 8, 256, 0.1, batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            width = 64
        else:
            cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "bilstm": nn.LSTM}[kind]
            self.enc = cell(d, H, batch_first=True, bidirectional=kind == "bilstm")
            width = 2 * H if kind == "bilstm" else H
        self.out = nn.Linear(width, outputs)

    def forward(self, x, lengths=None):
        if self.text:
            x = self.embed(x)
        if self.kind == "transformer":
            pos = torch.arange(x.shape[1]).unsqueeze(1) / torch.pow(10000, torch.arange(0, 64, 2) / 64)
            pe = torch.zeros(x.shape[1], 64)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(pos), torch.cos(pos)
            h = self.enc(self.proj(x) + pe)
        else:
            h, _ = self.enc(x)
        if not self.text:
            return self.out(torch.relu(h))
        idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, h.shape[2])
        return self.out(h.gather(1, idx).squeeze(1))


def train(net, batches, steps):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    tokens, seconds = 0, 0.0
    for i in range(steps + 3):  # 3 warm-up steps, not timed
        x, lengths, y, n = batches(i)
        start = time.perf_counter()
        opt.zero_grad()
        logits = net(x, lengths)
        loss = loss_fn(logits[:, -1] if logits.dim() == 3 else logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if i >= 3:
            seconds += time.perf_counter() - start
            tokens += n
    return tokens / seconds


def formal_batches(i):
    bits = torch.randint(0, 2, (B, 40))
    x = torch.zeros(B, 41, 3)
    x[:, :40].scatter_(2, bits.unsqueeze(2), 1.0)
    x[:, 40, 2] = 1.0
    return x, None, bits.sum(1) % 2, B * 41


def imdb_train_reviews(folder):
    """[label, text] of every training review, negatives then positives by review id, as
    data/imdb.h reads them: from the compact copy train.tsv.gz, or from the unpacked archive."""
    if os.path.exists(os.path.join(folder, "train.tsv.gz")):
        with gzip.open(os.path.join(folder, "train.tsv.gz"), "rt", encoding="utf-8") as f:
            next(f)
            return [line.split("\t", 1) for line in f]
    split = next(d for d in (os.path.join(folder, "aclImdb", "train"), os.path.join(folder, "train"))
                 if os.path.isdir(d))
    docs = []
    for label, sub in (("0", "neg"), ("1", "pos")):
        names = sorted(os.listdir(os.path.join(split, sub)), key=lambda n: int(n.split("_")[0]))
        for name in names:
            with open(os.path.join(split, sub, name), encoding="utf-8") as f:
                docs.append([label, f.read()])
    return docs


def imdb_batches(folder):
    docs = imdb_train_reviews(folder)
    random.seed(0)
    random.shuffle(docs)
    docs = docs[:3200]
    token = re.compile(r"[a-z0-9\x80-\U0010ffff]+(?:'[a-z0-9\x80-\U0010ffff]+)*|[^\sa-z0-9\x80-\U0010ffff]")
    encoded = []
    for label, text in docs:
        n = min(512, max(1, len(token.findall(text.replace("<br />", " ").lower()))))
        encoded.append((torch.randint(2, 20002, (n,)), int(label)))
    pool = sorted(encoded[: 50 * B], key=lambda d: len(d[0]))
    batches = [pool[i:i + B] for i in range(0, len(pool), B)]
    random.shuffle(batches)

    def get(i):
        batch = batches[i % len(batches)]
        lengths = torch.tensor([len(t) for t, _ in batch])
        x = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
        for r, (t, _) in enumerate(batch):
            x[r, : len(t)] = t
        return x, lengths, torch.tensor([l for _, l in batch]), int(lengths.sum())
    return get


if __name__ == "__main__":
    imdb_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/imdb"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    for kind in ["rnn", "lstm", "gru", "bilstm", "transformer"]:
        print(f"formal length 40  {kind:12s} {train(Net(kind, 3, 2, False), formal_batches, 100):12.0f} tokens/s")
    get = imdb_batches(imdb_dir)
    for kind in ["lstm", "gru", "bilstm"]:
        print(f"imdb L=512        {kind:12s} {train(Net(kind, 20002, 2, True), get, 30):12.0f} tokens/s")
