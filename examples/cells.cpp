// Trains each recurrent cell on a small synthetic long-range task and compares them.
//
// Task: sequences of T = 64 tokens from a vocabulary of 16; the label is the FIRST token, drawn
// from 0..3 (chance: 25%). Every later token is noise, so a model must carry the first token
// across 63 steps to its final state. Each model: Embedding(16, 32) -> encoder -> Linear on the
// encoder's features -> cross-entropy, Adam. A model is one entry in `entries` (name, how to
// build the encoder, how to read its features), so more encoders can be added to the comparison.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/blas_info.h"
#include "models/metrics.h"
#include "models/layers.h"
#include "models/optim.h"
#include "train/param_table.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {

constexpr int64_t kVocab = 16, kClasses = 4, kSteps = 64, kBatch = 32, kEmbed = 32, kHidden = 64;
constexpr int kTrainSteps = 300, kLogEvery = 50;

struct Batch {
    Tensor ids;     // Int64 [B, T]
    Tensor labels;  // Int64 [B]
};

Batch make_batch(std::mt19937_64& rng, int64_t batch) {
    std::vector<int64_t> ids(static_cast<size_t>(batch * kSteps)), labels(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
        labels[size_t(b)] = int64_t(rng() % kClasses);
        ids[size_t(b * kSteps)] = labels[size_t(b)];
        for (int64_t t = 1; t < kSteps; ++t) ids[size_t(b * kSteps + t)] = int64_t(rng() % kVocab);
    }
    return {Tensor::from_vector(ids, {batch, kSteps}), Tensor::from_vector(labels, {batch})};
}

// One model of the comparison: its encoder and how to get features [B, width] from x [B, T, E].
struct Entry {
    std::string name;
    int64_t feature_width;
    std::function<std::unique_ptr<Module>(Generator& gen)> build;
    std::function<Tensor(Module& encoder, const Tensor& x)> features;
};

std::vector<Entry> entries() {
    auto final_h = [](Module& m, const Tensor& x) {
        return static_cast<const Recurrent&>(m).forward(x).last.back().h;
    };
    auto recurrent = [&](const char* name, CellType type) {
        return Entry{name, kHidden,
                     [type](Generator& gen) { return std::make_unique<Recurrent>(type, kEmbed, kHidden, 1, gen); },
                     final_h};
    };
    return {
        recurrent("RNN", CellType::RNN),
        recurrent("LSTM", CellType::LSTM),
        recurrent("GRU", CellType::GRU),
        {"BiLSTM", 2 * kHidden, [](Generator& gen) { return std::make_unique<BiLstm>(kEmbed, kHidden, 1, gen); },
         [](Module& m, const Tensor& x) {
             RecurrentOutput r = static_cast<const BiLstm&>(m).forward(x);
             return concat({r.last[0].h, r.last[1].h}, 1);
         }},
        {"QL-LSTM", kHidden, [](Generator& gen) { return std::make_unique<QlLstm>(kEmbed, kHidden, gen); },
         [](Module& m, const Tensor& x) { return static_cast<const QlLstm&>(m).forward(x).last.back().h; }},
        // PR-LSTM reads the embedded tokens as its leaf inputs; features: the prefix state of the
        // whole sequence (its last position).
        {"PR-LSTM", kHidden, [](Generator& gen) { return std::make_unique<PrLstm>(kEmbed, kHidden, kClasses, gen); },
         [](Module& m, const Tensor& x) {
             Tensor h = static_cast<const PrLstm&>(m).prefix_states(x).h;  // [B, T, H]
             return squeeze(slice(h, 1, kSteps - 1, kSteps), 1);
         }},
        // Transformer (Delétang's width and heads, 2 layers here); features: the mean over positions.
        {"Transformer", 64,
         [](Generator& gen) {
             TransformerOptions o;
             o.layers = 2;
             return std::make_unique<TransformerEncoder>(0, kEmbed, o, gen);
         },
         [](Module& m, const Tensor& x) { return mean(static_cast<TransformerEncoder&>(m).forward(x), 1); }},
    };
}

struct Result {
    std::string name;
    int64_t parameters;
    double ms_per_step, accuracy;
};


Result train(const Entry& entry) {
    Generator gen(42);
    Embedding embedding(kVocab, kEmbed, gen);
    std::unique_ptr<Module> encoder = entry.build(gen);
    Linear head(entry.feature_width, kClasses, gen);
    auto logits = [&](const Tensor& ids) {
        return head.forward(entry.features(*encoder, embedding.forward(ids)));
    };
    std::vector<Tensor> params = embedding.parameters();
    for (const Tensor& p : encoder->parameters()) params.push_back(p);
    for (const Tensor& p : head.parameters()) params.push_back(p);
    AdamOptions options;
    options.lr = 3e-3;
    Adam adam(params, options);

    std::mt19937_64 rng(7);
    double seconds = 0;
    for (int step = 1; step <= kTrainSteps; ++step) {
        const Batch batch = make_batch(rng, kBatch);
        const auto start = std::chrono::steady_clock::now();
        for (Tensor& p : params) p.zero_grad();
        const Tensor out = logits(batch.ids);
        const Tensor loss = cross_entropy(out, batch.labels);
        backward(loss);
        adam.step();
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (step % kLogEvery == 0)
            std::printf("  %-11s step %4d  loss %.4f  batch accuracy %5.1f%%\n", entry.name.c_str(), step, loss.item(),
                        100 * accuracy(out, batch.labels));
    }
    encoder->eval();  // no dropout when measuring
    std::mt19937_64 held_out_rng(99);
    const Batch test = make_batch(held_out_rng, 512);
    NoGrad no_grad;
    const int64_t count = embedding.num_parameters() + encoder->num_parameters() + head.num_parameters();
    return {entry.name, count, 1e3 * seconds / kTrainSteps, accuracy(logits(test.ids), test.labels)};
}

}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    CLI::App app{"Trains RNN, LSTM, GRU, BiLSTM, QL-LSTM, PR-LSTM and a Transformer on a long-range task and compares them"};
    CLI11_PARSE(app, argc, argv);
    std::printf("%s\n", blas_summary().c_str());
    std::printf("Task: label = first token (%lld classes), T = %lld, vocabulary %lld; B = %lld, E = %lld, H = %lld, "
                "%d Adam steps\n",
                (long long)kClasses, (long long)kSteps, (long long)kVocab, (long long)kBatch, (long long)kEmbed,
                (long long)kHidden, kTrainSteps);
    std::vector<Result> results;
    for (const Entry& entry : entries()) results.push_back(train(entry));
    std::printf("\n%-12s %12s %10s %22s\n", "model", "parameters", "ms/step", "held-out accuracy (512)");
    for (const Result& r : results)
        std::printf("%-12s %12lld %10.1f %21.1f%%\n", r.name.c_str(), (long long)r.parameters, r.ms_per_step,
                    100 * r.accuracy);
    std::printf("\n%s", recurrent_parameter_table(kEmbed, kHidden).c_str());
    return 0;
}
