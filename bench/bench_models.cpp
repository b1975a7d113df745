// One training step (forward, loss, backward, Adam) of every recurrent model, against its GEMM
// floor measured in the same run: the FLOPs of the matrix products the step needs, at the raw
// cblas_sgemm speed of the best schedule's shapes (input projections of all steps in one GEMM before
// the loop, their weight gradients in one GEMM after it, only h U and its backward per step).
//
//   RNN, LSTM, GRU, BiLSTM, QL-LSTM at B=32, T=256, vocabulary 10,000, E=128, H=128 (classify
//   from the last state);  PR-LSTM at B=128, H=256, one-hot inputs of size 3, n=40 and n=500.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/optim.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "bench/bench_timing.h"
#include "tapegrad.h"

using namespace tapegrad;
using tapegrad::bench::median_seconds;
using tapegrad::bench::verdict;

namespace {

// Raw sgemm time of C [m, n] = A [m, k] B [k, n] (row-major), median of a few runs.
double sgemm_seconds(int64_t m, int64_t n, int64_t k) {
    std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
    int repeats = m * n * k > (int64_t(1) << 26) ? 5 : 30;
    return median_seconds(repeats, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    });
}

// Forward + both backward products of a [rows, in] x [in, out] layer.
double layer_floor(int64_t rows, int64_t in, int64_t out) {
    return sgemm_seconds(rows, out, in) + sgemm_seconds(rows, in, out) + sgemm_seconds(out, in, rows);
}

// The floor of a recurrent layer with G = gate width: hoisted input GEMMs, per-step h U and dh,
// and one big GEMM for dU over all steps.
double recurrent_floor(int64_t B, int64_t T, int64_t E, int64_t H, int64_t G) {
    double input = layer_floor(B * T, E, G);
    double per_step = sgemm_seconds(B, G, H) + sgemm_seconds(B, H, G);
    double recurrent_weight_grad = sgemm_seconds(G, H, B * T);
    return input + T * per_step + recurrent_weight_grad;
}

struct Row {
    std::string name;
    int64_t params;
    double ms, floor_ms;
    std::string note;
};

void print(const Row& r) {
    std::printf("%-22s %10lld %10.1f %10.1f %8.2fx  %s\n", r.name.c_str(), (long long)r.params, r.ms, r.floor_ms,
                r.ms / r.floor_ms, r.note.c_str());
}

// One step: loss = cross_entropy(head(model(x))), backward, Adam.
template <typename Forward>
double train_step_ms(Module& model, Forward forward, int repeats) {
    Adam adam(model.parameters());
    return 1e3 * median_seconds(repeats, [&] {
        adam.zero_grad();
        backward(forward());
        adam.step();
    });
}
}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    std::printf("%s\n\n", blas_summary().c_str());
    const int64_t B = 32, T = 256, V = 10000, E = 128, H = 128;
    Generator gen(1);
    std::vector<int64_t> ids(B * T), labels(B);
    for (auto& id : ids) id = int64_t(philox_uniform(7, gen.take(1)) * V);
    for (auto& l : labels) l = int64_t(philox_uniform(7, gen.take(1)) * 2);
    Tensor tokens = Tensor::from_vector(ids, {B, T}), targets = Tensor::from_vector(labels, {B});

    std::printf("train step, B=%lld T=%lld vocab=%lld E=%lld H=%lld (embedding -> layer -> last state -> linear -> CE -> Adam)\n",
                (long long)B, (long long)T, (long long)V, (long long)E, (long long)H);
    std::printf("%-22s %10s %10s %10s %9s\n", "model", "params", "ms/step", "floor ms", "ratio");
    struct Spec {
        std::string name;
        std::function<std::unique_ptr<Module>()> make;
        std::function<Tensor(Module&, const Tensor&)> last_state;
        int64_t out_width;
        double floor_s;
    };
    struct Classifier : Module {
        Embedding embedding;
        std::unique_ptr<Module> layer;
        Linear head;
        Classifier(Generator& g, std::unique_ptr<Module> l, int64_t width)
            : embedding(10000, 128, g), layer(std::move(l)), head(width, 2, g) {
            register_module("embedding", &embedding);
            register_module("layer", layer.get());
            register_module("head", &head);
        }
    };
    std::vector<Spec> specs = {
        {"RNN", [&] { return std::make_unique<Recurrent>(CellType::RNN, E, H, 1, gen); },
         [](Module& m, const Tensor& x) { return static_cast<Recurrent&>(m).forward(x).last[0].h; }, H,
         recurrent_floor(B, T, E, H, H)},
        {"LSTM", [&] { return std::make_unique<Recurrent>(CellType::LSTM, E, H, 1, gen); },
         [](Module& m, const Tensor& x) { return static_cast<Recurrent&>(m).forward(x).last[0].h; }, H,
         recurrent_floor(B, T, E, H, 4 * H)},
        {"GRU", [&] { return std::make_unique<Recurrent>(CellType::GRU, E, H, 1, gen); },
         [](Module& m, const Tensor& x) { return static_cast<Recurrent&>(m).forward(x).last[0].h; }, H,
         recurrent_floor(B, T, E, H, 3 * H)},
        {"BiLSTM", [&] { return std::make_unique<BiLstm>(E, H, 1, gen); },
         [](Module& m, const Tensor& x) {
             RecurrentOutput o = static_cast<BiLstm&>(m).forward(x);
             return concat({o.last[0].h, o.last[1].h}, 1);
         },
         2 * H, 2 * recurrent_floor(B, T, E, H, 4 * H)},
        {"QL-LSTM (K=16)", [&] { return std::make_unique<QlLstm>(E, H, gen); },
         [](Module& m, const Tensor& x) { return static_cast<QlLstm&>(m).forward(x).last[0].h; }, H,
         recurrent_floor(B, T, E, H, H) + (T / 16) * 2 * layer_floor(B, H, H)},
    };
    double lstm_ms = 0, ql_ms = 0;
    for (Spec& s : specs) {
        Classifier model(gen, s.make(), s.out_width);
        double ms = train_step_ms(model, [&] {
            Tensor x = model.embedding.forward(tokens);
            return cross_entropy(model.head.forward(s.last_state(*model.layer, x)), targets);
        }, 3);
        if (s.name == "LSTM") lstm_ms = ms;
        if (s.name.rfind("QL-LSTM", 0) == 0) ql_ms = ms;
        print({s.name, model.layer->num_parameters(), ms, 1e3 * s.floor_s, "layer params; floor = GEMMs only"});
    }
    std::printf("LSTM budget: within 1.5x of its floor.  QL-LSTM vs LSTM: %.2fx faster (budget >= 2x)\n\n",
                lstm_ms / ql_ms);

    // ---- PR-LSTM ----
    std::printf("PR-LSTM train step, B=128 H=256 R=1, one-hot inputs of size 3, loss at the last position\n");
    std::printf("%-22s %10s %10s %10s %9s\n", "model", "params", "ms/step", "floor ms", "ratio");
    for (int64_t n : {40, 500}) {
        const int64_t PB = 128, PH = 256;
        Generator g(2);
        PrLstm model(3, PH, 2, g);
        std::vector<double> onehot(PB * n * 3, 0.0);
        for (int64_t i = 0; i < PB * n; ++i) onehot[i * 3 + int64_t(philox_uniform(3, i) * 3)] = 1.0;
        Tensor x = Tensor::from_values(onehot, {PB, n, 3}, DType::Float32);
        Tensor y = Tensor::from_vector(std::vector<int64_t>(PB, 1), {PB});
        double ms = train_step_ms(model, [&] {
            Tensor logits = model.forward(x);
            return cross_entropy(reshape(slice(logits, 1, n - 1, n), {PB, 2}), y);
        }, n > 100 ? 1 : 3);
        // Floor: every merge call's rows through [2H -> 5H] and [H -> 4H], forward and backward.
        double floor_s = layer_floor(PB * n, 3, 3 * PH) + layer_floor(PB * n, PH, 2);
        int64_t calls = 0;
        auto add_call = [&](int64_t pairs) {
            floor_s += layer_floor(PB * pairs, 2 * PH, 5 * PH) + layer_floor(PB * pairs, PH, 4 * PH);
            ++calls;
        };
        for (int64_t m = n / 2; m >= 1; m /= 2) add_call(m);  // block levels
        for (int64_t size = 1; size <= n; size *= 2) {          // prefix groups
            int64_t count = 0;
            for (int64_t t = 0; t < n; ++t) count += ((t + 1) & -(t + 1)) == size && t + 1 != size;
            if (count) add_call(count);
        }
        print({"PR-LSTM n=" + std::to_string(n), model.num_parameters(), ms, 1e3 * floor_s,
               std::to_string(model.merge_calls()) + " batched merge calls (floor assumes " + std::to_string(calls) + ")"});
    }
    std::printf("PR-LSTM budget: within 1.3x of its floor.\n");
    return 0;
}
