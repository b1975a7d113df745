// GPU benchmarks (run when a CUDA device is present; otherwise they say so and exit 0):
//   elementwise add/mul/sigmoid on 16M floats vs device-to-device copy bandwidth,
//   matmul forward+backward [4096,1024]x[1024,4096] vs the same three raw cuBLAS GEMMs,
//   launch overhead of a 10,000-op chain on 1-element tensors, forward and backward,
//   driver allocations per step of a small training loop (the caching allocator),
//   train steps of the recurrent models (LSTM, QL-LSTM at bench_cells' sizes; PR-LSTM at
//   bench_pr_lstm's) on the GPU against the same step on this machine's CPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
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
using tapegrad::bench::verdict;

namespace {
const Device gpu = Device::cuda(0);

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


void elementwise_vs_copy() {
    const int64_t n = int64_t(16) << 20;
    Generator gen(1);
    NoGrad no_grad;
    Tensor a = to(Tensor::randn({n}, gen), gpu), b = to(Tensor::randn({n}, gen), gpu);
    Tensor copy = Tensor::empty({n}, DType::Float32, gpu);
    double copy_s = median_seconds(20, [&] { backend_for(gpu).copy_within(copy.raw_data(), a.raw_data(), n * 4); });
    double copy_gbps = 2.0 * n * 4 / copy_s / 1e9;
    std::printf("device-to-device copy  %8.1f GB/s (16M floats, read + write)\n", copy_gbps);
    struct {
        const char* name;
        int inputs;
        std::function<Tensor()> op;
    } ops[] = {{"add", 2, [&] { return a + b; }}, {"mul", 2, [&] { return a * b; }}, {"sigmoid", 1, [&] { return sigmoid(a); }}};
    for (auto& op : ops) {
        double gbps = (op.inputs + 1.0) * n * 4 / median_seconds(20, [&] { op.op(); }) / 1e9;
        std::printf("%-22s %8.1f GB/s = %5.1f%% of copy   budget >= 70%%   %s\n", op.name, gbps, 100 * gbps / copy_gbps,
                    verdict(gbps / copy_gbps >= 0.7));
    }
}

void raw_gemm(bool ta, bool tb, const Tensor& a, const Tensor& b, Tensor& c, int64_t m, int64_t n, int64_t k) {
    GemmArgs g;
    g.transpose_a = ta, g.transpose_b = tb, g.m = m, g.n = n, g.k = k;
    g.a = a.raw_data(), g.b = b.raw_data(), g.c = c.raw_data();
    g.lda = ta ? m : k, g.ldb = tb ? k : n, g.ldc = n;
    g.device = gpu;
    backend_for(gpu).gemm(g);
}

void matmul_vs_cublas() {
    const int64_t m = 4096, k = 1024, n = 4096;
    Generator gen(2);
    Tensor x = to(Tensor::randn({m, k}, gen), gpu).detach().set_requires_grad();
    Tensor w = to(Tensor::randn({k, n}, gen), gpu).detach().set_requires_grad();
    Tensor gy = to(Tensor::randn({m, n}, gen), gpu);
    double ours = median_seconds(10, [&] {
        backward(matmul(x, w), {gy});
        x.zero_grad();
        w.zero_grad();
    });
    Tensor y = Tensor::empty({m, n}, DType::Float32, gpu), gx = Tensor::empty({m, k}, DType::Float32, gpu),
           gw = Tensor::empty({k, n}, DType::Float32, gpu);
    double cublas = median_seconds(10, [&] {
        raw_gemm(false, false, x, w, y, m, n, k);   // y = x w
        raw_gemm(false, true, gy, w, gx, m, k, n);  // dx = dy w^T
        raw_gemm(true, false, x, gy, gw, k, n, m);  // dw = x^T dy
    });
    std::printf("matmul fwd+bwd %.2f ms vs raw cublasSgemm x3 %.2f ms: %5.1f%% ([4096,1024]x[1024,4096])   "
                "budget >= 90%%   %s\n",
                ours * 1e3, cublas * 1e3, 100 * cublas / ours, verdict(cublas / ours >= 0.9));
}

void launch_overhead() {
    const int ops = 10000;
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
    std::printf("launch overhead: %.2f us/op forward, %.2f us/op backward (10,000 ops on [1] tensors); "
                "bare kernel launch %.2f us: forward %.1fx the bare launch\n",
                forward / ops * 1e6, back / ops * 1e6, bare / ops * 1e6, forward / bare);
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
    SequenceClassifier(bool ql, Generator& gen) : embedding(10000, 128, gen), head(128, 2, gen) {
        if (ql)
            ql_lstm = std::make_unique<QlLstm>(128, 128, gen);
        else
            lstm = std::make_unique<Recurrent>(CellType::LSTM, 128, 128, 1, gen);
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

void recurrent_train_steps() {
    std::printf("\ntrain steps, GPU vs this machine's CPU (%s):\n", blas_summary().c_str());
    Generator gen(4);
    std::vector<int64_t> id_values(32 * 256);
    for (size_t i = 0; i < id_values.size(); ++i) id_values[i] = int64_t(philox_uniform(5, i) * 10000);
    Tensor ids = Tensor::from_vector(id_values, {32, 256}), labels = Tensor::zeros({32}, DType::Int64);
    for (bool ql : {false, true}) {
        SequenceClassifier model(ql, gen);
        double cpu_ms = train_step_ms(model, Device::cpu(), 3, [&] { return model.logits(ids); }, labels);
        Tensor gpu_ids = to(ids, gpu);
        double gpu_ms = train_step_ms(model, gpu, 5, [&] { return model.logits(gpu_ids); }, labels);
        std::printf("  %-8s B=32 T=256 E=H=128: GPU %8.1f ms/step, CPU %8.1f ms/step: GPU %.2fx faster\n",
                    ql ? "QL-LSTM" : "LSTM", gpu_ms, cpu_ms, cpu_ms / gpu_ms);
    }
    for (int64_t n : {40, 500}) {
        PrLstm model(3, 256, 2, gen);
        std::vector<float> one_hot(128 * n * 3, 0.0f);
        for (int64_t i = 0; i < 128 * n; ++i) one_hot[i * 3 + int64_t(philox_uniform(6, i) * 3)] = 1.0f;
        Tensor x = Tensor::from_vector(one_hot, {128, n, 3}), labels128 = Tensor::zeros({128}, DType::Int64);
        auto last_logits = [&](const Tensor& in) { return squeeze(slice(model.forward(in), 1, n - 1, n), 1); };
        double cpu_ms = n <= 40 ? train_step_ms(model, Device::cpu(), 3, [&] { return last_logits(x); }, labels128) : 0;
        Tensor gpu_x = to(x, gpu);
        double gpu_ms = train_step_ms(model, gpu, 5, [&] { return last_logits(gpu_x); }, labels128);
        std::printf("  PR-LSTM  B=128 H=256 n=%-3lld: GPU %8.1f ms/step (%lld merge calls)", (long long)n, gpu_ms,
                    (long long)model.merge_calls());
        if (cpu_ms > 0) std::printf(", CPU %8.1f ms/step: GPU %.2fx faster", cpu_ms, cpu_ms / gpu_ms);
        std::printf("\n");
    }
}
}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    CLI::App app{"The CUDA backend against cuBLAS and the CPU"};
    CLI11_PARSE(app, argc, argv);
    if (!cuda::is_available()) {
        std::printf("bench_cuda: no CUDA device available: skipping the GPU benchmarks\n");
        return 0;
    }
    std::printf("GPU: %s\n\n", cuda::device_name(0).c_str());
    elementwise_vs_copy();
    matmul_vs_cublas();
    launch_overhead();
    allocator_per_step();
    recurrent_train_steps();
    return 0;
}
