// Foundation benchmarks: what the tape costs per op, how close matmul gets to raw BLAS, and how
// close elementwise ops get to memory bandwidth. Each figure is a ratio against a floor measured
// in the same run (raw cblas_sgemm, a triad loop), so it means the same on any machine.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "cpu/blas_info.h"
#include "bench/bench_timing.h"
#include "tapegrad.h"

using namespace tapegrad;
using tapegrad::bench::median_seconds;
using tapegrad::bench::verdict;

namespace {



// ---- tape overhead: 100,000 ops on 1-element tensors -------------------------------------------
double tape_ns_per_op() {
    const int ops = 100000;
    Tensor x = Tensor::full({1}, 0.5f);
    x.set_requires_grad();
    double t = median_seconds(5, [&] {
        Tensor h = x;
        for (int i = 0; i < ops; ++i) h = (i % 2) ? h * 0.999 : h + 0.001;
        backward(h);
        x.zero_grad();
    });
    return t / ops * 1e9;
}

// ---- matmul forward + backward vs the same three raw sgemm calls -------------------------------
struct MatmulFigures {
    double tapegrad_s, blas_s;
};
MatmulFigures matmul_vs_sgemm(int m, int k, int n) {
    Generator gen(1);
    Tensor a = Tensor::randn({m, k}, gen), b = Tensor::randn({k, n}, gen), gy = Tensor::randn({m, n}, gen);
    a.set_requires_grad();
    b.set_requires_grad();
    double ours = median_seconds(50, [&] {
        backward(matmul(a, b), {gy});
        a.zero_grad();
        b.zero_grad();
    });
    std::vector<float> A = a.to_vector<float>(), B = b.to_vector<float>(), G = gy.to_vector<float>();
    std::vector<float> Y(m * n), GA(m * k), GB(k * n);
    double raw = median_seconds(50, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, A.data(), k, B.data(), n, 0, Y.data(), n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1, G.data(), n, B.data(), n, 0, GA.data(), k);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1, A.data(), k, G.data(), n, 0, GB.data(), n);
    });
    return {ours, raw};
}

// sgemm on the running kernel set against a float64 reference: the fast kernels must not change
// results beyond float32 rounding.
double sgemm_relative_error(int m, int k, int n) {
    Generator gen(2);
    std::vector<float> A = Tensor::randn({m, k}, gen).to_vector<float>(), B = Tensor::randn({k, n}, gen).to_vector<float>();
    std::vector<float> C(m * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, A.data(), k, B.data(), n, 0, C.data(), n);
    double worst = 0;
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double ref = 0, scale = 0;
            for (int p = 0; p < k; ++p) {
                ref += double(A[i * k + p]) * double(B[p * n + j]);
                scale += std::fabs(double(A[i * k + p]) * double(B[p * n + j]));
            }
            worst = std::max(worst, std::fabs(C[i * n + j] - ref) / scale);
        }
    return worst;
}

double sgemm_gflops(int m, int k, int n) {
    std::vector<float> A(size_t(m) * k, 1.0f), B(size_t(k) * n, 1.0f), C(size_t(m) * n);
    double t = median_seconds(20, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, A.data(), k, B.data(), n, 0, C.data(), n);
    });
    return 2.0 * m * n * k / t / 1e9;
}

// ---- elementwise vs a triad loop (memory bandwidth) --------------------------------------------
double triad_gbps(int64_t n) {
    std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
    float* pa = a.data();
    const float* pb = b.data();
    const float* pc = c.data();
    double t = median_seconds(50, [&] {
#pragma omp parallel for simd
        for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 0.5f * pc[i];
    });
    return 3.0 * n * sizeof(float) / t / 1e9;  // two reads, one write
}

double op_gbps(int64_t n, int inputs, const std::function<Tensor()>& op) {
    NoGrad no_grad;
    double t = median_seconds(50, [&] { op(); });
    return (inputs + 1.0) * n * sizeof(float) / t / 1e9;
}
}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    CLI::App app{"The tape's cost per op, matmul against BLAS, elementwise ops against a copy loop"};
    CLI11_PARSE(app, argc, argv);
    std::printf("%s\n\n", blas_summary().c_str());

    double ns = tape_ns_per_op();
    std::printf("tape overhead   %8.0f ns/op (record + backward, 100,000 ops on [1] tensors)   budget 1000   %s\n",
                ns, verdict(ns <= 1000));

    MatmulFigures mm = matmul_vs_sgemm(32, 256, 512);
    double mm_ratio = mm.blas_s / mm.tapegrad_s;
    std::printf("matmul fwd+bwd  %8.1f us vs raw sgemm x3 %.1f us: %5.1f%% of BLAS throughput ([32,256]x[256,512])   "
                "budget >= 80%%   %s\n",
                mm.tapegrad_s * 1e6, mm.blas_s * 1e6, 100 * mm_ratio, verdict(mm_ratio >= 0.8));

    const int64_t n = 1 << 20;
    Generator gen(3);
    Tensor a = Tensor::randn({n}, gen), b = Tensor::randn({n}, gen);
    double triad = triad_gbps(n);
    double dram_triad = triad_gbps(int64_t(64) << 20);
    std::printf("triad loop      %8.1f GB/s on 1M floats (the floor the budget uses; 12 MB: mostly in cache)\n", triad);
    std::printf("triad loop      %8.1f GB/s on 64M floats (768 MB: main-memory bandwidth, for reference)\n", dram_triad);
    struct {
        const char* name;
        int inputs;
        std::function<Tensor()> op;
    } ops[] = {{"add", 2, [&] { return a + b; }}, {"mul", 2, [&] { return a * b; }}, {"sigmoid", 1, [&] { return sigmoid(a); }}};
    for (auto& op : ops) {
        double gbps = op_gbps(n, op.inputs, op.op);
        std::printf("%-15s %8.1f GB/s = %5.1f%% of triad   budget >= 50%%   %s   (%.0f%% of main-memory triad)\n",
                    op.name, gbps, 100 * gbps / triad, verdict(gbps / triad >= 0.5), 100 * gbps / dram_triad);
    }

    std::printf("\nsgemm [32,256]x[256,512] %.1f GFLOP/s, [1024,1024]x[1024,1024] %.1f GFLOP/s on this kernel set\n",
                sgemm_gflops(32, 256, 512), sgemm_gflops(1024, 1024, 1024));
    double err = sgemm_relative_error(64, 256, 96);
    std::printf("sgemm vs float64 reference: max relative error %.2e (float32 rounding is ~1e-7 x sqrt(K))   %s\n",
                err, verdict(err < 1e-5));
    return 0;
}
