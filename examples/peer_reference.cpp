// Reference outputs for scripts/torch_peer_check.py, which checks that the PyTorch peer of the
// benchmarks (scripts/torch_peer.py) computes the same functions as tapegrad's cells. For each
// model this writes, into DIR:
//   <model>.safetensors     its parameters (save_checkpoint, tapegrad's parameter names)
//   <model>_io.safetensors  a fixed input "x" and tapegrad's outputs on it
//
//   build/examples/peer_reference DIR
//
// Sizes are small and uneven (T = 37 is not a multiple of QL-LSTM's K = 16; n = 37 leaves an odd
// element at several PR-LSTM levels).
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

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    NoGrad no_grad;
    Generator gen(7);
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

    // PR-LSTM on one-hot inputs of width 3 (V = 2 plus the empty token), R = 1, 2 classes.
    std::vector<float> one_hot(kB * kT * 3, 0.0f);
    for (int64_t i = 0; i < kB * kT; ++i) one_hot[i * 3 + (i * 7 + i / 5) % 3] = 1.0f;
    const Tensor tokens = Tensor::from_vector(one_hot, {kB, kT, 3});
    PrLstm pr(3, kH, 2, gen);
    PrStates prefixes = pr.prefix_states(tokens);
    write(dir, "pr_lstm", pr, {{"x", tokens}, {"h", prefixes.h}, {"c", prefixes.c}, {"logits", pr.forward(tokens)}});
    return 0;
}
