// GPU benchmarks (run when a CUDA device is present; otherwise they say so and exit 0):
//   elementwise add/mul/sigmoid on 16M floats vs device-to-device copy bandwidth,
//   sum, max (to a scalar) and softmax (rows of 4096) over 16M floats vs the same copy bandwidth,
//   matmul forward+backward [4096,1024]x[1024,4096] vs the same three raw cuBLAS GEMMs,
//   launch overhead of a 10,000-op chain on 1-element tensors, forward and backward,
//   driver allocations per step of a small training loop (the caching allocator),
//   train steps of the recurrent models (LSTM, QL-LSTM at bench_cells' sizes; PR-LSTM at
//   bench_pr_lstm's) on the GPU against the same step on this machine's CPU.
// Each budget prints PASS or FAIL with its measured ratio, and a missed one makes the exit status
// 1. --quick runs everything at sizes the host emulation (cuda/emulation/) gets through in
// seconds; on the emulation the budgets are printed but not enforced (it measures no GPU).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cpu/blas_info.h"
#include "cuda/cuda.h"
#include "models/layers.h"
#include "models/optim.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "bench/bench_timing.h"
#include "tapegrad.h"

using namespace tapegrad;
namespace {
const Device gpu = Device::cuda(0);

// The sizes of one run: the benchmarks' own, or --quick's for the host emulation.
struct Sizes {
    int64_t elements = int64_t(16) << 20;  // elementwise ops and reductions
    int64_t softmax_row = 4096;
    int64_t m = 4096, k = 1024, n = 4096;  // matmul
    int chain = 10000;                     // ops of the launch-overhead chain
    int64_t batch = 32, steps = 256, width = 128, vocabulary = 10000;  // LSTM and QL-LSTM
    int64_t pr_batch = 128, pr_hidden = 256;
    std::vector<int64_t> pr_lengths = {40, 500};
    int repeats = 20, model_repeats = 5;
};

Sizes quick_sizes() {
    Sizes s;
    s.elements = int64_t(1) << 16;
    s.softmax_row = 256;
    s.m = 64, s.k = 32, s.n = 48;
    s.chain = 200;
    s.batch = 4, s.steps = 8, s.width = 16, s.vocabulary = 100;
    s.pr_batch = 4, s.pr_hidden = 16;
    s.pr_lengths = {8};
    s.repeats = 3, s.model_repeats = 2;
    return s;
}

// Every budget of the run: printed PASS or FAIL with its measured ratio; a missed one fails the
// run unless the device is the host emulation, whose timings say nothing about a GPU.
struct Budgets {
    bool enforced = true;
    int missed = 0;

    // "PASS (0.82 >= 0.70)" for a ratio that must be at least `floor`.
    std::string check(double ratio, double floor) {
        const bool ok = ratio >= floor;
        if (!ok && enforced) ++missed;
        char text[96];
        std::snprintf(text, sizeof text, "%s (%.2f %s %.2f)%s", ok ? "PASS" : "FAIL", ratio, ok ? ">=" : "<", floor,
                      enforced ? "" : " (not enforced: emulation)");
        return text;
    }
};

// GPU work is asynchronous: every measurement waits for the device before reading the clock.
double median_seconds(int repeats, const std::function<void()>& fn) {
    return bench::median_seconds(repeats, fn, cuda::synchronize);
}

double seconds(const std::function<void()>& fn) {
    cuda::synchronize();
    auto start = std::chrono::steady_clock::now();
    fn();
    cuda::synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}


// Device-to-device copy bandwidth (read + write) of n floats, GB/s: the floor of the memory-bound ops.
double copy_bandwidth(const Sizes& sizes, const Tensor& from) {
    const int64_t n = from.numel();
    Tensor copy = Tensor::empty({n}, DType::Float32, gpu);
    double copy_s = median_seconds(sizes.repeats, [&] { backend_for(gpu).copy_within(copy.raw_data(), from.raw_data(), n * 4); });
    return 2.0 * n * 4 / copy_s / 1e9;
}

// Prints an op's bandwidth (bytes moved per call / time) against the copy's; budget: at least
// `floor` of it.
void bandwidth_line(const Sizes& sizes, Budgets& budgets, const char* name, double bytes, double copy_gbps,
                    double floor, const std::function<void()>& op) {
    double gbps = bytes / median_seconds(sizes.repeats, op) / 1e9;
    std::printf("%-22s %8.1f GB/s = %5.1f%% of copy   budget >= %2.0f%%   %s\n", name, gbps, 100 * gbps / copy_gbps,
                100 * floor, budgets.check(gbps / copy_gbps, floor).c_str());
}

void elementwise_vs_copy(const Sizes& sizes, Budgets& budgets) {
    const int64_t n = sizes.elements;
    Generator gen(1);
    NoGrad no_grad;
    Tensor a = to(Tensor::randn({n}, gen), gpu), b = to(Tensor::randn({n}, gen), gpu);
    const double copy_gbps = copy_bandwidth(sizes, a);
    std::printf("device-to-device copy  %8.1f GB/s (%lld floats, read + write)\n", copy_gbps, (long long)n);
    bandwidth_line(sizes, budgets, "add", 3.0 * n * 4, copy_gbps, 0.7, [&] { a + b; });
    bandwidth_line(sizes, budgets, "mul", 3.0 * n * 4, copy_gbps, 0.7, [&] { a * b; });
    bandwidth_line(sizes, budgets, "sigmoid", 2.0 * n * 4, copy_gbps, 0.7, [&] { sigmoid(a); });
    // The reductions read their input once (within 2x of copy bandwidth); softmax also writes its output.
    Tensor rows = reshape(a, {n / sizes.softmax_row, sizes.softmax_row});
    bandwidth_line(sizes, budgets, "sum (to a scalar)", 1.0 * n * 4, copy_gbps, 0.5, [&] { sum(a); });
    bandwidth_line(sizes, budgets, "max (to a scalar)", 1.0 * n * 4, copy_gbps, 0.5, [&] { max(a); });
    bandwidth_line(sizes, budgets, "softmax (rows)", 2.0 * n * 4, copy_gbps, 0.5, [&] { softmax(rows, -1); });
}

void raw_gemm(bool ta, bool tb, const Tensor& a, const Tensor& b, Tensor& c, int64_t m, int64_t n, int64_t k) {
    GemmArgs g;
    g.transpose_a = ta, g.transpose_b = tb, g.m = m, g.n = n, g.k = k;
    g.a = a.raw_data(), g.b = b.raw_data(), g.c = c.raw_data();
    g.lda = ta ? m : k, g.ldb = tb ? k : n, g.ldc = n;
    g.device = gpu;
    backend_for(gpu).gemm(g);
}

void matmul_vs_cublas(const Sizes& sizes, Budgets& budgets) {
    const int64_t m = sizes.m, k = sizes.k, n = sizes.n;
    Generator gen(2);
    Tensor x = to(Tensor::randn({m, k}, gen), gpu).detach().set_requires_grad();
    Tensor w = to(Tensor::randn({k, n}, gen), gpu).detach().set_requires_grad();
    Tensor gy = to(Tensor::randn({m, n}, gen), gpu);
    double ours = median_seconds(sizes.repeats / 2, [&] {
        backward(matmul(x, w), {gy});
        x.zero_grad();
        w.zero_grad();
    });
    Tensor y = Tensor::empty({m, n}, DType::Float32, gpu), gx = Tensor::empty({m, k}, DType::Float32, gpu),
           gw = Tensor::empty({k, n}, DType::Float32, gpu);
    double cublas = median_seconds(sizes.repeats / 2, [&] {
        raw_gemm(false, false, x, w, y, m, n, k);   // y = x w
        raw_gemm(false, true, gy, w, gx, m, k, n);  // dx = dy w^T
        raw_gemm(true, false, x, gy, gw, k, n, m);  // dw = x^T dy
    });
    std::printf("matmul fwd+bwd %.2f ms vs raw cublasSgemm x3 %.2f ms: %5.1f%% ([%lld,%lld]x[%lld,%lld])   "
                "budget >= 90%%   %s\n",
                ours * 1e3, cublas * 1e3, 100 * cublas / ours, (long long)m, (long long)k, (long long)k, (long long)n,
                budgets.check(cublas / ours, 0.9).c_str());
}

void launch_overhead(const Sizes& sizes) {
    const int ops = sizes.chain;
    Tensor x = to(Tensor::full({1}, 0.5f), gpu).detach().set_requires_grad();
    Tensor h;
    double forward = seconds([&] {
        h = x;
        for (int i = 0; i < ops; ++i) h = (i % 2) ? h * 0.999 : h + 0.001;
    });
    double back = seconds([&] { backward(h); });
    // The floor: one bare kernel launch per op through the backend (a fill of the same [1] tensor),
    // without the output allocation and the tape record an op adds.
    Tensor y = to(Tensor::full({1}, 0.5f), gpu);
    double bare = seconds([&] {
        for (int i = 0; i < ops; ++i) backend_for(gpu).fill(y, 0.5);
    });
    std::printf("launch overhead: %.2f us/op forward, %.2f us/op backward (%d ops on [1] tensors); "
                "bare kernel launch %.2f us: forward %.1fx the bare launch\n",
                forward / ops * 1e6, back / ops * 1e6, ops, bare / ops * 1e6, forward / bare);
}

void allocator_per_step() {
    Generator gen(3);
    Tensor x = to(Tensor::randn({64, 32}, gen), gpu), labels = to(Tensor::arange(64, DType::Int64), gpu);
    Tensor w1 = to(Tensor::randn({128, 32}, gen) * 0.1, gpu).detach().set_requires_grad();
    Tensor w2 = to(Tensor::randn({64, 128}, gen) * 0.1, gpu).detach().set_requires_grad();
    SgdHyper sgd;
    Tensor unused;
    std::printf("caching allocator, driver allocations per training step (small MLP):");
    for (int step = 0; step < 5; ++step) {
        int64_t before = cuda::memory_stats().driver_allocations;
        backward(cross_entropy(matmul(tanh(matmul(x, transpose(w1, 0, 1))), transpose(w2, 0, 1)), labels));
        NoGrad no_grad;
        for (Tensor* w : {&w1, &w2}) {
            backend_for(gpu).sgd_step(*w, w->grad(), unused, sgd);
            w->zero_grad();
        }
        std::printf(" %lld", (long long)(cuda::memory_stats().driver_allocations - before));
    }
    std::printf("\n");
}
// One train step (forward, cross-entropy on logits [B, classes], backward, Adam) of `model`'s
// `logits` on `device`, median over `repeats` steps.
template <typename Logits>
double train_step_ms(Module& model, Device device, int repeats, Logits logits, const Tensor& labels) {
    model.to(device);
    Tensor targets = to(labels, device);
    Adam adam(model.parameters());
    return 1e3 * median_seconds(repeats, [&] {
        model.zero_grad();
        backward(cross_entropy(logits(), targets));
        adam.step();
    });
}

// An embedding, a recurrent layer and a linear head on the final h: bench_cells' classifier.
struct SequenceClassifier : Module {
    SequenceClassifier(bool ql, const Sizes& s, Generator& gen)
        : embedding(s.vocabulary, s.width, gen), head(s.width, 2, gen) {
        if (ql)
            ql_lstm = std::make_unique<QlLstm>(s.width, s.width, gen);
        else
            lstm = std::make_unique<Recurrent>(CellType::LSTM, s.width, s.width, 1, gen);
        register_module("embedding", &embedding);
        register_module("cell", ql ? static_cast<Module*>(ql_lstm.get()) : lstm.get());
        register_module("head", &head);
    }
    Tensor logits(const Tensor& ids) const {
        Tensor x = embedding.forward(ids);
        return head.forward(ql_lstm ? ql_lstm->forward(x).last.back().h : lstm->forward(x).last.back().h);
    }
    Embedding embedding;
    Linear head;
    std::unique_ptr<Recurrent> lstm;
    std::unique_ptr<QlLstm> ql_lstm;
};

void recurrent_train_steps(const Sizes& s) {
    std::printf("\ntrain steps, GPU vs this machine's CPU (%s):\n", blas_summary().c_str());
    Generator gen(4);
    std::vector<int64_t> id_values(s.batch * s.steps);
    for (size_t i = 0; i < id_values.size(); ++i) id_values[i] = int64_t(philox_uniform(5, i) * double(s.vocabulary));
    Tensor ids = Tensor::from_vector(id_values, {s.batch, s.steps}), labels = Tensor::zeros({s.batch}, DType::Int64);
    for (bool ql : {false, true}) {
        SequenceClassifier model(ql, s, gen);
        double cpu_ms = train_step_ms(model, Device::cpu(), 3, [&] { return model.logits(ids); }, labels);
        Tensor gpu_ids = to(ids, gpu);
        double gpu_ms = train_step_ms(model, gpu, s.model_repeats, [&] { return model.logits(gpu_ids); }, labels);
        std::printf("  %-8s B=%lld T=%lld E=H=%lld: GPU %8.1f ms/step, CPU %8.1f ms/step: GPU %.2fx faster\n",
                    ql ? "QL-LSTM" : "LSTM", (long long)s.batch, (long long)s.steps, (long long)s.width, gpu_ms,
                    cpu_ms, cpu_ms / gpu_ms);
    }
    for (int64_t n : s.pr_lengths) {
        PrLstm model(3, s.pr_hidden, 2, gen);
        std::vector<float> one_hot(s.pr_batch * n * 3, 0.0f);
        for (int64_t i = 0; i < s.pr_batch * n; ++i) one_hot[i * 3 + int64_t(philox_uniform(6, i) * 3)] = 1.0f;
        Tensor x = Tensor::from_vector(one_hot, {s.pr_batch, n, 3});
        Tensor pr_labels = Tensor::zeros({s.pr_batch}, DType::Int64);
        auto last_logits = [&](const Tensor& in) { return squeeze(slice(model.forward(in), 1, n - 1, n), 1); };
        double cpu_ms = n <= 40 ? train_step_ms(model, Device::cpu(), 3, [&] { return last_logits(x); }, pr_labels) : 0;
        Tensor gpu_x = to(x, gpu);
        double gpu_ms = train_step_ms(model, gpu, s.model_repeats, [&] { return last_logits(gpu_x); }, pr_labels);
        std::printf("  PR-LSTM  B=%lld H=%lld n=%-3lld: GPU %8.1f ms/step (%lld merge calls)", (long long)s.pr_batch,
                    (long long)s.pr_hidden, (long long)n, gpu_ms, (long long)model.merge_calls());
        if (cpu_ms > 0) std::printf(", CPU %8.1f ms/step: GPU %.2fx faster", cpu_ms, cpu_ms / gpu_ms);
        std::printf("\n");
    }
}
}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    CLI::App app{"The CUDA backend against cuBLAS and the CPU"};
    bool quick = false;
    app.add_flag("--quick", quick, "every benchmark at small sizes (seconds on the host emulation)");
    CLI11_PARSE(app, argc, argv);
    if (!cuda::is_available()) {
        std::printf("bench_cuda: no CUDA device available: skipping the GPU benchmarks\n");
        return 0;
    }
    const std::string device = cuda::device_name(0);
    const Sizes sizes = quick ? quick_sizes() : Sizes{};
    Budgets budgets;
    budgets.enforced = device.find("emulation") == std::string::npos;
    std::printf("GPU: %s%s\n\n", device.c_str(), quick ? " (--quick: small sizes)" : "");
    elementwise_vs_copy(sizes, budgets);
    matmul_vs_cublas(sizes, budgets);
    launch_overhead(sizes);
    allocator_per_step();
    recurrent_train_steps(sizes);
    if (budgets.missed > 0) {
        std::printf("\nbench_cuda: %d budget(s) missed\n", budgets.missed);
        return 1;
    }
    return 0;
}
