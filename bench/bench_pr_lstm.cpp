// PR-LSTM train step (forward, loss, backward, Adam) at B = 128, H = 256, one-hot inputs of size 3
// (V = 2 plus the empty token), n = 40 and n = 500, against its GEMM floor measured in the same run.
//
// The floor: every matrix product the step does, at OpenBLAS's speed on the step's threads
// (bench/gemm_floor.h) for the same shapes and transposes, timed in rounds interleaved with the step's (a floor run, then a step; the ratio is the
// median of the rounds' ratios). The shapes are read off the tape after the forward pass: each `linear` record with
// x [rows, in] and W [out, in] costs the forward GEMM x W^T, and in backward dW = gy^T x and (if x
// needs a gradient) dx = gy W. Goal: the step within 1.25x of that floor.
// Peers (bench/python_peer.h, each when .venv/ has it): PyTorch, the same model and schedule as loops
// of torch ops (scripts/torch_peer.py --pr); JAX, the same model jit-compiled, its prefixes one
// jax.lax.associative_scan (scripts/jax_pr_lstm.py).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>

#include "cpu/blas_info.h"
#include "models/optim.h"
#include "models/pr_lstm.h"
#include "bench/bench_timing.h"
#include "bench/gemm_floor.h"
#include "bench/python_peer.h"
#include "bench/step_worker.h"
#include "train/option_checks.h"
#include "cpu/cpu_threads.h"
#include "tapegrad.h"

using namespace tapegrad;
using tapegrad::bench::backward_breakdown;
using tapegrad::bench::median_seconds;
using tapegrad::bench::floor_sgemm;
using tapegrad::bench::jax_peer_kind;
using tapegrad::bench::peer_missing;
using tapegrad::bench::PythonPeer;
using tapegrad::bench::run_peer;
using tapegrad::bench::torch_peer_kind;
using tapegrad::bench::versus_peer;
using tapegrad::bench::verdict;

namespace {

// One linear record: x [rows, in], W [out, in], and whether backward computes dx.
using LinearShape = std::tuple<int64_t, int64_t, int64_t, bool>;

// The GEMMs of every linear record at OpenBLAS's speed on the step's threads (bench/gemm_floor.h),
// each shape as many times as the step runs it: one run of the floor.
struct LinearFloor {
    struct Buffers {
        std::vector<float> x, w, y, gx, gw;
    };
    std::map<LinearShape, int> shapes;
    std::vector<Buffers> buffers;
    explicit LinearFloor(const std::map<LinearShape, int>& s) : shapes(s) {
        for (auto& [shape, count] : shapes) {
            auto [rows, in, out, needs_dx] = shape;
            buffers.push_back({std::vector<float>(rows * in, 0.01f), std::vector<float>(out * in, 0.01f),
                               std::vector<float>(rows * out), std::vector<float>(rows * in), std::vector<float>(out * in)});
        }
    }
    void run() {
        size_t i = 0;
        for (auto& [shape, count] : shapes) {
            auto [rows, in, out, needs_dx] = shape;
            Buffers& b = buffers[i++];
            for (int r = 0; r < count; ++r) {
                floor_sgemm(false, true, rows, out, in, b.x.data(), in, b.w.data(), in, 0, b.y.data(), out);
                if (needs_dx) floor_sgemm(false, false, rows, in, out, b.y.data(), out, b.w.data(), in, 1, b.gx.data(), in);
                floor_sgemm(true, false, out, in, rows, b.y.data(), out, b.x.data(), in, 1, b.gw.data(), in);
            }
        }
    }
};

Tensor one_hot_batch(int64_t batch, int64_t n, int64_t width, uint64_t seed) {
    std::vector<float> v(batch * n * width, 0.0f);
    for (int64_t i = 0; i < batch * n; ++i) v[i * width + int64_t(philox_uniform(seed, i) * width)] = 1.0f;
    return Tensor::from_vector(v, {batch, n, width});
}

constexpr int64_t B = 128, H = 256, width = 3, classes = 2;

// The train step's model, optimiser and batch at length n: what this bench and its worker mode
// (bench/step_worker.h) time.
struct PrLstmStep {
    int64_t n;
    Generator gen{0};
    PrLstm model{width, H, classes, gen};
    Adam adam{model.parameters()};
    Tensor x = one_hot_batch(B, n, width, 1), targets;
    explicit PrLstmStep(int64_t length) : n(length) {
        std::vector<int64_t> labels(B);
        for (int64_t b = 0; b < B; ++b) labels[b] = int64_t(philox_uniform(2, b) * classes);
        targets = Tensor::from_vector(labels, {B});
    }
    // A classification task reads its one output at the last position, the appended empty token
    // (data/formal_tasks.h).
    Tensor loss() { return cross_entropy(squeeze(slice(model.forward(x), 1, n - 1, n), 1), targets); }
    void step() {
        adam.zero_grad();
        backward(loss());
        adam.step();
    }
};

// Returns the step time in ms.
double bench_step(int64_t n, int repeats) {
    PrLstmStep pr(n);
    auto loss_of = [&] { return pr.loss(); };

    std::map<LinearShape, int> linears;
    int64_t merge_calls = 0;
    {
        Tape tape;
        TapeGuard guard(tape);
        loss_of();
        merge_calls = pr.model.merge_calls();
        for (const Record& r : tape.records()) {
            if (r.op == "matmul") std::printf("  (unexpected matmul record: not in the floor)\n");
            if (r.op != "linear") continue;
            const Shape& xs = r.inputs[0].shape();
            const Shape& ws = r.inputs[1].shape();
            int64_t rows = numel(xs) / ws[1];
            ++linears[{rows, ws[1], ws[0], r.inputs[0].requires_grad()}];
        }
    }

    double forward_s = median_seconds(repeats, [&] {
        NoGrad no_grad;
        loss_of();
    });
    // The step and its floor in interleaved rounds (bench_timing.h).
    LinearFloor floor(linears);
    const tapegrad::bench::PairedTimes times =
        tapegrad::bench::paired_median_seconds(repeats, [&] { pr.step(); }, [&] { floor.run(); });
    const double step_s = times.step_s, floor_s = times.floor_s, ratio = times.ratio;
    double flops = 0;
    for (auto& [shape, count] : linears) {
        auto [rows, in, out, needs_dx] = shape;
        flops += count * 2.0 * rows * in * out * (needs_dx ? 3 : 2);
    }
    std::printf("n=%-4lld B=%lld H=%lld  step %8.1f ms (forward %7.1f ms)  GEMM floor %8.1f ms (%5.1f GFLOP, %3zu shapes)"
                "  ratio %.2fx  goal 1.25x %s  batched merge calls/forward %lld (x2 with backward)\n",
                (long long)n, (long long)B, (long long)H, step_s * 1e3, forward_s * 1e3, floor_s * 1e3, flops / 1e9,
                linears.size(), ratio, verdict(ratio <= 1.25), (long long)merge_calls);
    pr.adam.zero_grad();
    std::printf("       %s (linear = the GEMM part)\n", backward_breakdown(loss_of()).c_str());
    std::fflush(stdout);
    return step_s * 1e3;
}

}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);  // may restart the program once with faster BLAS kernels
    CLI::App app{"PR-LSTM train step at sequence lengths n against the PyTorch and JAX peers"};
    std::vector<int64_t> lengths = {40, 500};
    app.add_option("lengths", lengths, "the lengths n to run")->check(tapegrad::at_least(1))->capture_default_str();
    tapegrad::bench::add_clock_flag(app);
    // --step prlstm --rounds N: only time the n = 40 step (bench/step_worker.h, for bench_contention).
    tapegrad::bench::StepWorker worker;
    tapegrad::bench::add_step_worker_options(app, worker, {"prlstm"});
    CLI11_PARSE(app, argc, argv);
    if (!worker.step.empty()) {
        PrLstmStep pr(40);
        return tapegrad::bench::run_step_worker(worker, [&] { pr.step(); });
    }
    tapegrad::bench::warn_if_loaded();
    std::printf("%s\n", blas_summary().c_str());
    std::printf("PR-LSTM (1R) train step: forward, cross-entropy at the last position, backward, Adam; %s\n",
                tapegrad::bench::cpu_time_clock() ? "process CPU time (--cpu-time)" : "wall time");
    // The peers, run first so that no two programs share the cores: PyTorch (scripts/torch_peer.py
    // --pr: the same model, schedule and step as loops of torch ops) and JAX (scripts/jax_pr_lstm.py:
    // the same model and step, jit-compiled, on tapegrad's thread count and clock; the PyTorch
    // peer always uses 2 threads and wall time).
    std::string lengths_args;
    for (int64_t n : lengths) lengths_args += " " + std::to_string(n);
    const std::string jax_args = lengths_args + " --threads " + std::to_string(num_threads()) +
                                 (tapegrad::bench::cpu_time_clock() ? " --cpu-time" : "");
    const PythonPeer peers[] = {run_peer(torch_peer_kind, "--pr" + lengths_args), run_peer(jax_peer_kind, jax_args)};
    const char* peer_labels[] = {"torch loop of ops", "JAX jit"};
    for (const PythonPeer& peer : peers)
        for (const std::string& note : peer.notes) std::printf("%s\n", note.c_str());
    for (int64_t n : lengths) {
        // Rounds: 15 of the short n = 40 steps (this host's speed drifts within seconds: the median
        // of many short rounds), three of the long n = 500 steps.
        const double ms = bench_step(n, n > 100 ? 3 : 15);
        for (int p = 0; p < 2; ++p) {
            auto it = peers[p].ms.find("PRLSTM_" + std::to_string(n));
            if (it == peers[p].ms.end()) continue;
            std::printf("n=%-4lld %-17s %8.1f ms/step; tapegrad %8.1f ms/step: %s\n", (long long)n, peer_labels[p],
                        it->second, ms, versus_peer(ms, it->second).c_str());
        }
    }
    for (const PythonPeer& peer : peers) {
        const std::string missing = peer_missing(peer);
        if (!missing.empty()) std::printf("%s\n", missing.c_str());
    }
    return 0;
}
