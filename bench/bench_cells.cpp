// Recurrent cells: one train step (embedding lookup, cell, linear readout of the final h,
// cross-entropy, backward, Adam) at B = 32, T = 256, vocabulary 10,000, E = 128, H = 128, for RNN,
// LSTM, GRU, BiLSTM and QL-LSTM, against the GEMM floor measured in the same run.
//
// The GEMM floor of a cell is the time OpenBLAS takes on the step's threads (bench/gemm_floor.h)
// for the matrix products of the best
// schedule, run here with the same shapes: the input projection of all T steps in one GEMM
// ([B·T, E] x [E, G], G = gate width), h_{t-1} W_hh^T ([B, H] x [H, G]) per step, and in the
// backward dh_{t-1} = dz_t W_hh per step plus three big GEMMs over all steps: dW_ih = dZ^T X,
// dX = dZ W_ih, dW_hh = dZ^T H_prev. (QL-LSTM adds its per-block summary products.) Everything
// else (gate arithmetic, masking, the tape, the embedding, Adam) is overhead above the floor.
// Goals: every cell within 1.5x of its floor, the LSTM within 1.3x.
// Peer (bench/python_peer.h, when .venv/ has torch): the same steps in PyTorch, each cell as a loop of
// torch ops and the built-in nn.LSTM / nn.GRU, printed beside tapegrad's figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cpu/blas_info.h"
#include "models/layers.h"
#include "models/optim.h"
#include "train/param_table.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "bench/bench_timing.h"
#include "bench/gemm_floor.h"
#include "bench/python_peer.h"
#include "bench/step_worker.h"
#include "cpu/cpu_threads.h"
#include "tapegrad.h"

using namespace tapegrad;
using tapegrad::bench::backward_breakdown;
using tapegrad::bench::floor_sgemm;
using tapegrad::bench::peer_missing;
using tapegrad::bench::PythonPeer;
using tapegrad::bench::run_peer;
using tapegrad::bench::torch_peer_kind;
using tapegrad::bench::versus_peer;
using tapegrad::bench::verdict;

namespace {

constexpr int64_t kB = 32, kT = 256, kVocab = 10000, kE = 128, kH = 128, kClasses = 2;

// One GEMM shape of a schedule, run `count` times: C[m, n] = op(A) op(B) with inner size k.
struct Gemm {
    int m, n, k, count;
    bool trans_a, trans_b;
};

// The best schedule of one recurrent layer with gate width g (see the header comment).
std::vector<Gemm> layer_schedule(int g) {
    const int bt = int(kB * kT), b = int(kB), t = int(kT), h = int(kH), e = int(kE);
    return {
        {bt, g, e, 1, false, true},  // X W_ih^T, all steps
        {b, g, h, t, false, true},   // h W_hh^T per step
        {b, h, g, t, false, false},  // dh = dz W_hh per step
        {g, e, bt, 1, true, false},  // dW_ih = dZ^T X
        {bt, e, g, 1, false, false}, // dX = dZ W_ih
        {g, h, bt, 1, true, false},  // dW_hh = dZ^T H_prev
    };
}

double gemm_flops(const std::vector<Gemm>& schedule) {
    double f = 0;
    for (const Gemm& s : schedule) f += 2.0 * s.m * s.n * s.k * s.count;
    return f;
}

// One run of the whole schedule at OpenBLAS's speed on the step's threads (bench/gemm_floor.h): the floor.
struct GemmFloor {
    std::vector<Gemm> schedule;
    std::vector<std::vector<float>> a, b, c;
    explicit GemmFloor(const std::vector<Gemm>& s) : schedule(s) {
        for (const Gemm& g : schedule) {
            a.emplace_back(size_t(g.m) * g.k, 0.01f);
            b.emplace_back(size_t(g.k) * g.n, 0.02f);
            c.emplace_back(size_t(g.m) * g.n, 0.0f);
        }
    }
    void run() {
        for (size_t i = 0; i < schedule.size(); ++i) {
            const Gemm& s = schedule[i];
            for (int r = 0; r < s.count; ++r)
                floor_sgemm(s.trans_a, s.trans_b, s.m, s.n, s.k, a[i].data(), s.trans_a ? s.m : s.k, b[i].data(),
                            s.trans_b ? s.k : s.n, 0.0f, c[i].data(), s.n);
        }
    }
};

// A classifier: embedding -> recurrent layer -> Linear on the final h -> logits [B, classes].
struct Classifier {
    std::string name;
    std::function<Tensor(const Tensor& ids)> logits;
    std::vector<Tensor> parameters;
    std::vector<Gemm> floor_schedule;
};

// The per-step products of the LSTM, h [B, H] x U^T [H, 4H] and dz [B, 4H] x U [4H, H], as raw
// OpenBLAS on the step's threads (what the floor counts) and as the CPU backend runs them (what the
// step runs, cpu/cpu_gemm.h: U prepared once per loop, libxsmm on the same threads), 256 calls each:
// the step's GEMMs can beat the floor.
void print_per_step_products() {
    Backend& cpu = backend_for(Device::cpu());
    Generator gen(3);
    const int64_t g = 4 * kH;
    Tensor h = Tensor::uniform({kB, kH}, -1, 1, gen), dz = Tensor::uniform({kB, g}, -1, 1, gen);
    Tensor u = Tensor::uniform({g, kH}, -1, 1, gen), z = Tensor::empty({kB, g}), dh = Tensor::empty({kB, kH});
    PackedMatrix forward = cpu.pack_matrix(u, true, 1), backward = cpu.pack_matrix(u, false, 1);
    const double flops = 2.0 * 2 * kB * kH * g * kT;
    const tapegrad::bench::PairedTimes t = tapegrad::bench::paired_median_seconds(
        7,
        [&] {
            for (int64_t s = 0; s < kT; ++s) {
                cpu.gemm_packed(h, forward, nullptr, Tensor(), 0.0, z);
                cpu.gemm_packed(dz, backward, nullptr, Tensor(), 0.0, dh);
            }
        },
        [&] {
            for (int64_t s = 0; s < kT; ++s) {
                floor_sgemm(false, true, kB, g, kH, h.data<float>(), kH, u.data<float>(), kH, 0.0f, z.data<float>(), g);
                floor_sgemm(false, false, kB, kH, g, dz.data<float>(), g, u.data<float>(), kH, 0.0f, dh.data<float>(), kH);
            }
        });
    std::printf("LSTM per-step products (256 x [32,128]x[128,512] and [32,512]x[512,128]): OpenBLAS %.2f ms "
                "(%.0f GFLOP/s), tapegrad's path %.2f ms (%.0f GFLOP/s)\n\n",
                t.floor_s * 1e3, flops / t.floor_s / 1e9, t.step_s * 1e3, flops / t.step_s / 1e9);
}

// One train step of `model` per call (its Adam state lives in the closure).
std::function<void()> train_step(Classifier& model, const Tensor& ids, const Tensor& labels) {
    auto adam = std::make_shared<Adam>(model.parameters, AdamOptions{});
    return [&model, ids, labels, adam] {
        for (Tensor& p : model.parameters) p.zero_grad();
        backward(cross_entropy(model.logits(ids), labels));
        adam->step();
    };
}

}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);  // may restart the program once with faster BLAS kernels
    CLI::App app{"Train steps of the recurrent cells (RNN, LSTM, GRU, BiLSTM, QL-LSTM) against their GEMM floor "
                 "and the PyTorch peer"};
    tapegrad::bench::add_clock_flag(app);
    // --step lstm|qllstm --rounds N: only time that step (bench/step_worker.h, for bench_contention).
    tapegrad::bench::StepWorker worker;
    tapegrad::bench::add_step_worker_options(app, worker, {"lstm", "qllstm"});
    bool quick = false;
    app.add_flag("--quick", quick, "one round of each (a smoke test)");
    CLI11_PARSE(app, argc, argv);
    // Many short rounds: this host's speed drifts within seconds, and a median over 7 rounds still
    // moved from run to run (docs/BENCHMARKS.md).
    const int rounds = quick ? 1 : 11, paired_rounds = quick ? 1 : 25;
    if (worker.step.empty()) {
        tapegrad::bench::warn_if_loaded();
        std::printf("%s\n", blas_summary().c_str());
        std::printf("Train step: B=%lld T=%lld vocab=%lld E=%lld H=%lld, Adam; medians of %d rounds, each a floor run "
                    "then a step (the ratio is the median of the rounds' ratios); %s\n\n", (long long)kB,
                    (long long)kT, (long long)kVocab, (long long)kE, (long long)kH, rounds,
                    tapegrad::bench::cpu_time_clock() ? "process CPU time (--cpu-time)" : "wall time");
    }

    Generator gen(1);
    std::vector<int64_t> id_values(static_cast<size_t>(kB * kT)), label_values(static_cast<size_t>(kB));
    std::mt19937_64 rng(1);
    for (auto& v : id_values) v = int64_t(rng() % uint64_t(kVocab));
    for (auto& v : label_values) v = int64_t(rng() % uint64_t(kClasses));
    const Tensor ids = Tensor::from_vector(id_values, {kB, kT}), labels = Tensor::from_vector(label_values, {kB});

    Embedding embedding(kVocab, kE, gen);
    Linear head(kH, kClasses, gen), head2(2 * kH, kClasses, gen);
    Recurrent rnn(CellType::RNN, kE, kH, 1, gen), lstm(CellType::LSTM, kE, kH, 1, gen),
        gru(CellType::GRU, kE, kH, 1, gen);
    BiLstm bilstm(kE, kH, 1, gen);
    QlLstm ql(kE, kH, gen);
    QlLstmOptions psug_only;
    psug_only.hgr = false;
    QlLstm ql_psug(kE, kH, gen, psug_only);

    auto params = [&](const Module& cell, const Linear& readout) {
        std::vector<Tensor> p = embedding.parameters();
        for (const Tensor& t : cell.parameters()) p.push_back(t);
        for (const Tensor& t : readout.parameters()) p.push_back(t);
        return p;
    };
    auto unidirectional = [&](const std::string& name, const Recurrent& cell, int gates) {
        return Classifier{name,
                          [&](const Tensor& x) { return head.forward(cell.forward(embedding.forward(x)).last.back().h); },
                          params(cell, head), layer_schedule(gates)};
    };
    std::vector<Gemm> bi = layer_schedule(int(4 * kH)), ql_floor = layer_schedule(int(kH));
    bi.insert(bi.end(), bi.begin(), bi.end());
    // QL-LSTM's block summaries: W_s m_k and V_s s_{k-1} forward, and per product dX and dW backward.
    const int blocks = int(kT / 16);
    for (int r = 0; r < 2; ++r)
        ql_floor.insert(ql_floor.end(), {{int(kB), int(kH), int(kH), blocks, false, true},
                                         {int(kB), int(kH), int(kH), blocks, false, false},
                                         {int(kH), int(kH), int(kB), blocks, true, false}});
    std::vector<Classifier> models{
        unidirectional("RNN", rnn, int(kH)),
        unidirectional("LSTM", lstm, int(4 * kH)),
        unidirectional("GRU", gru, int(3 * kH)),
        {"BiLSTM",
         [&](const Tensor& x) {
             RecurrentOutput r = bilstm.forward(embedding.forward(x));
             return head2.forward(concat({r.last[0].h, r.last[1].h}, 1));
         },
         params(bilstm, head2), bi},
        {"QL-LSTM", [&](const Tensor& x) { return head.forward(ql.forward(embedding.forward(x)).last.back().h); },
         params(ql, head), ql_floor},
    };

    auto model_named = [&](const std::string& name) -> Classifier& {
        return *std::find_if(models.begin(), models.end(), [&](const Classifier& m) { return m.name == name; });
    };
    if (!worker.step.empty()) {
        const char* name = worker.step == "lstm" ? "LSTM" : "QL-LSTM";
        return tapegrad::bench::run_step_worker(worker, train_step(model_named(name), ids, labels));
    }
    print_per_step_products();
    const PythonPeer peer =
        quick ? run_peer(torch_peer_kind, "--steps 1") : tapegrad::bench::run_peer_twice(torch_peer_kind, "");
    for (const std::string& note : peer.notes) std::printf("%s\n", note.c_str());
    std::printf("%-9s %10s %11s %10s %9s %14s  %s\n", "cell", "ms/step", "floor ms", "GFLOP", "vs floor",
                "torch loop ms", "tapegrad vs torch loop");
    std::map<std::string, double> ms;
    bool all_faster = !peer.ms.empty();
    for (Classifier& m : models) {
        GemmFloor floor(m.floor_schedule);
        const tapegrad::bench::PairedTimes times =
            tapegrad::bench::paired_median_seconds(rounds, train_step(m, ids, labels), [&] { floor.run(); });
        const double step_s = times.step_s, ratio = times.ratio;
        ms[m.name] = step_s * 1e3;
        std::printf("%-9s %10.1f %11.1f %10.2f %8.2fx", m.name.c_str(), step_s * 1e3, times.floor_s * 1e3,
                    gemm_flops(m.floor_schedule) / 1e9, ratio);
        auto it = peer.ms.find(m.name + "_loop");
        if (it != peer.ms.end()) {
            std::printf(" %14.1f  %s", it->second, versus_peer(ms[m.name], it->second).c_str());
            all_faster &= ms[m.name] < it->second;
        } else {
            all_faster = false;
        }
        std::printf("\n          %s\n", backward_breakdown(cross_entropy(m.logits(ids), labels)).c_str());
        const double goal = m.name == "LSTM" ? 1.3 : 1.5;
        std::printf("          goal: within %.2fx of its floor: %s\n", goal, verdict(ratio <= goal));
    }
    // The same pairing for the two cells: rounds of one QL-LSTM step then one LSTM step (more of
    // them: the two steps are short).
    const tapegrad::bench::PairedTimes ql_vs_lstm = tapegrad::bench::paired_median_seconds(
        paired_rounds, train_step(model_named("LSTM"), ids, labels), train_step(model_named("QL-LSTM"), ids, labels));
    std::printf("QL-LSTM vs LSTM (%d paired rounds): %.2fx faster (for reference)\n", paired_rounds, ql_vs_lstm.ratio);
    // The same pairing without the block summaries: what PSUG's quarter of the GEMM work alone buys
    // (the per-step gate and state arithmetic, the embedding and Adam are the LSTM's).
    Classifier psug{"QL-LSTM PSUG only",
                    [&](const Tensor& x) { return head.forward(ql_psug.forward(embedding.forward(x)).last.back().h); },
                    params(ql_psug, head), layer_schedule(int(kH))};
    const tapegrad::bench::PairedTimes psug_vs_lstm = tapegrad::bench::paired_median_seconds(
        paired_rounds, train_step(model_named("LSTM"), ids, labels), train_step(psug, ids, labels));
    std::printf("QL-LSTM PSUG only (no HGR-ASC) vs LSTM (%d paired rounds): %.2fx faster (for reference)\n",
                paired_rounds, psug_vs_lstm.ratio);
    // And both on one thread: the LSTM's extra work is GEMM, which a second core speeds up; the
    // per-step gate and state arithmetic both cells share runs on one core either way.
    const int threads = num_threads();
    set_num_threads(1);
    const tapegrad::bench::PairedTimes one_thread = tapegrad::bench::paired_median_seconds(
        paired_rounds, train_step(model_named("LSTM"), ids, labels), train_step(model_named("QL-LSTM"), ids, labels));
    set_num_threads(threads);
    std::printf("QL-LSTM vs LSTM on one thread (%d paired rounds): %.2fx faster (for reference; LSTM %.1f ms, QL-LSTM "
                "%.1f ms)\n", paired_rounds, one_thread.ratio, one_thread.step_s * 1e3, one_thread.floor_s * 1e3);
    const std::string missing = peer_missing(peer);
    if (!missing.empty()) {
        std::printf("%s\n", missing.c_str());
    } else {
        std::printf("goal: every tapegrad cell faster than its torch loop-of-ops twin: %s\n", verdict(all_faster));
        for (const char* cell : {"LSTM", "GRU"}) {
            auto it = peer.ms.find(std::string(cell) + "_fused");
            if (it == peer.ms.end()) continue;
            std::printf("torch built-in nn.%s (fused): %.1f ms/step; tapegrad %s %.1f ms/step: %s\n", cell, it->second,
                        cell, ms[cell], versus_peer(ms[cell], it->second).c_str());
        }
        // The goal's verdict from adjacent rounds: a PyTorch run of nn.LSTM (the median of its 5
        // steps), then 5 tapegrad LSTM steps (their median), five times; the median of the five
        // ratios. Each ratio compares two figures taken seconds apart, where the table above
        // compares figures a minute apart on a host whose speed drifts.
        std::vector<double> ratios, torch_ms, tapegrad_ms;
        for (int r = 0; r < (quick ? 1 : 5); ++r) {
            const PythonPeer fused = run_peer(torch_peer_kind, "--only LSTM_fused");
            auto it = fused.ms.find("LSTM_fused");
            if (it == fused.ms.end()) break;
            torch_ms.push_back(it->second);
            tapegrad_ms.push_back(tapegrad::bench::median_seconds(5, train_step(model_named("LSTM"), ids, labels)) * 1e3);
            ratios.push_back(tapegrad_ms.back() / torch_ms.back());
        }
        if (!ratios.empty()) {
            const double ratio = tapegrad::bench::median(ratios);
            std::printf("tapegrad LSTM vs nn.LSTM in %zu adjacent rounds: PyTorch %.1f-%.1f ms, tapegrad %.1f-%.1f ms; "
                        "median ratio %s (goal: no slower: %s)\n",
                        ratios.size(), *std::min_element(torch_ms.begin(), torch_ms.end()),
                        *std::max_element(torch_ms.begin(), torch_ms.end()),
                        *std::min_element(tapegrad_ms.begin(), tapegrad_ms.end()),
                        *std::max_element(tapegrad_ms.begin(), tapegrad_ms.end()), versus_peer(ratio, 1.0).c_str(),
                        verdict(ratio <= 1.0));
        }
    }
    std::printf("\n%s", recurrent_parameter_table(kE, kH).c_str());
    return 0;
}
