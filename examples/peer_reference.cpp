// Reference outputs for scripts/torch_peer_check.py, which checks that the PyTorch peer of the
// benchmarks (scripts/torch_peer.py) computes the same functions as tapegrad's cells, and for
// scripts/jax_peer_check.py, which checks the JAX PR-LSTM (scripts/jax_pr_lstm.py). For each model
// this writes, into DIR:
//   <model>.safetensors     its parameters (save_checkpoint, tapegrad's parameter names)
//   <model>_io.safetensors  a fixed input "x" and tapegrad's outputs on it
// and for PR-LSTM also
//   pr_lstm_loss.safetensors  on the same weights in float64: the bench's loss, cross-entropy at the
//                             last position ("x", "targets", "loss"), and its gradient for every
//                             parameter ("grad.<name>")
//
//   build/examples/peer_reference DIR
//
// Sizes are small and uneven (T = 37 is not a multiple of QL-LSTM's K = 16; n = 37 leaves an odd
// element at several PR-LSTM levels).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "models/checkpoint.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {

constexpr int64_t kB = 3, kT = 37, kD = 5, kH = 8;

void write(const std::string& dir, const std::string& name, const Module& model,
           const std::vector<std::pair<std::string, Tensor>>& io) {
    save_checkpoint(dir + "/" + name + ".safetensors", model);
    save_tensors(dir + "/" + name + "_io.safetensors", io);
    std::printf("wrote %s/%s.safetensors and %s_io.safetensors\n", dir.c_str(), name.c_str(), name.c_str());
}

// outputs [B, T, H] and the final h (and c) of a recurrent layer.
std::vector<std::pair<std::string, Tensor>> recurrent_io(const Tensor& x, const RecurrentOutput& r) {
    std::vector<std::pair<std::string, Tensor>> io = {{"x", x}, {"output", r.output}};
    for (size_t l = 0; l < r.last.size(); ++l) {
        io.push_back({"h." + std::to_string(l), r.last[l].h});
        if (r.last[l].c.defined()) io.push_back({"c." + std::to_string(l), r.last[l].c});
    }
    return io;
}

// RNN, LSTM, GRU, BiLSTM and QL-LSTM on one input [B, T, D] uniform in ±1.
void write_cells(const std::string& dir, Generator& gen) {
    NoGrad no_grad;
    const Tensor x = Tensor::uniform({kB, kT, kD}, -1.0, 1.0, gen);

    const std::pair<const char*, CellType> cells[] = {
        {"rnn", CellType::RNN}, {"lstm", CellType::LSTM}, {"gru", CellType::GRU}};
    for (auto [name, type] : cells) {
        Recurrent layer(type, kD, kH, 1, gen);
        write(dir, name, layer, recurrent_io(x, layer.forward(x)));
    }
    BiLstm bilstm(kD, kH, 1, gen);
    write(dir, "bilstm", bilstm, recurrent_io(x, bilstm.forward(x)));
    QlLstm ql(kD, kH, gen);
    write(dir, "ql_lstm", ql, recurrent_io(x, ql.forward(x)));
}

// PR-LSTM on one-hot inputs of width 3 (V = 2 plus the empty token), R = 1, 2 classes: its prefix
// states and logits (float32), then in float64 on the same weights the bench's loss,
// cross_entropy(logits[:, T-1], targets), and its gradients.
void write_pr_lstm(const std::string& dir, Generator& gen) {
    std::vector<float> one_hot(kB * kT * 3, 0.0f);
    for (int64_t i = 0; i < kB * kT; ++i) one_hot[i * 3 + (i * 7 + i / 5) % 3] = 1.0f;
    const Tensor tokens = Tensor::from_vector(one_hot, {kB, kT, 3});
    PrLstm pr(3, kH, 2, gen);
    {
        NoGrad no_grad;
        PrStates prefixes = pr.prefix_states(tokens);
        write(dir, "pr_lstm", pr, {{"x", tokens}, {"h", prefixes.h}, {"c", prefixes.c}, {"logits", pr.forward(tokens)}});
    }
    pr.to(DType::Float64);
    const Tensor x = to(tokens, DType::Float64);
    std::vector<int64_t> labels(kB);
    for (int64_t b = 0; b < kB; ++b) labels[b] = b % 2;
    const Tensor targets = Tensor::from_vector(labels, {kB});
    Tensor loss = cross_entropy(squeeze(slice(pr.forward(x), 1, kT - 1, kT), 1), targets);
    backward(loss);
    std::vector<std::pair<std::string, Tensor>> io = {{"x", x}, {"targets", targets}, {"loss", loss}};
    for (const auto& [name, param] : pr.named_parameters()) io.push_back({"grad." + name, param.grad()});
    save_tensors(dir + "/pr_lstm_loss.safetensors", io);
    std::printf("wrote %s/pr_lstm_loss.safetensors (float64 loss %.17g)\n", dir.c_str(), loss.item());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Writes the cells' and PR-LSTM's checkpoints, inputs, outputs and gradients for the Python peers"};
    std::string dir;
    app.add_option("dir", dir, "the folder to write into (it must exist)")->required();
    CLI11_PARSE(app, argc, argv);
    Generator gen(7);
    write_cells(dir, gen);
    write_pr_lstm(dir, gen);
    return 0;
}
