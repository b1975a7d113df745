// Foundation benchmarks. Each figure is set against a floor or a budget, measured in this run:
//
//   tape overhead   record + backward of a 100,000-op elementwise chain on 1-element tensors,
//                   ns per op, against the budget of 1,000 ns/op
//   matmul          matmul forward + backward of [32, 256] x [256, 512], against raw cblas_sgemm
//                   running the same three products (Y = A B, dA = dY B^T, dB = A^T dY)
//   elementwise     add, mul, sigmoid on 1M floats (NoGrad), bytes moved per second, against a
//                   triad loop a[i] = b[i] + s c[i] over arrays of the same size
//   blas check      sgemm on the kernel set in use against a float64 dgemm reference
//
// Every time is the median over repetitions, after one warm-up run.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "tapegrad.h"

using namespace tapegrad;

namespace {

template <typename Fn>
double median_seconds(int repetitions, Fn&& run) {
    run();
    std::vector<double> seconds;
    for (int r = 0; r < repetitions; ++r) {
        auto start = std::chrono::steady_clock::now();
        run();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
}

// One line of the summary table: `ratio` is measured / floor, read against `target`.
struct Row {
    std::string name, measured, floor;
    double ratio;
    std::string target;
    bool pass;
};

void print_table(const std::vector<Row>& rows) {
    fmt::print("\n{:<34} {:>22} {:>26} {:>8}  {:<14} {}\n", "benchmark", "measured", "floor / budget", "ratio",
               "target", "result");
    for (const Row& r : rows)
        fmt::print("{:<34} {:>22} {:>26} {:>8.2f}  {:<14} {}\n", r.name, r.measured, r.floor, r.ratio, r.target,
                   r.pass ? "PASS" : "MISS");
}

// ---- tape overhead -----------------------------------------------------------------------------

// y <- tanh(y + x), 50,000 times: 100,000 recorded ops (add, tanh), then backward to x.
Row tape_overhead() {
    const int steps = 50'000, ops = 2 * steps;
    Tensor x = Tensor::full({1}, 0.1);
    x.set_requires_grad();
    double forward_s = 0, backward_s = 0;
    double total = median_seconds(5, [&] {
        auto start = std::chrono::steady_clock::now();
        Tensor y = x;
        for (int i = 0; i < steps; ++i) y = tanh(y + x);
        auto recorded = std::chrono::steady_clock::now();
        backward(y);
        auto done = std::chrono::steady_clock::now();
        forward_s = std::chrono::duration<double>(recorded - start).count();
        backward_s = std::chrono::duration<double>(done - recorded).count();
        x.zero_grad();
    });
    double ns_per_op = total / ops * 1e9;
    fmt::print("tape overhead: {} ops, {:.0f} ns/op (last run: forward {:.0f} ns/op, backward {:.0f} ns/op)\n", ops,
               ns_per_op, forward_s / ops * 1e9, backward_s / ops * 1e9);
    return {"tape overhead (ns/op, fwd+bwd)", fmt::format("{:.0f} ns/op", ns_per_op), "budget 1000 ns/op",
            ns_per_op / 1000.0, "<= 1.00", ns_per_op <= 1000.0};
}

// ---- matmul ------------------------------------------------------------------------------------

Row matmul_vs_sgemm() {
    const int64_t M = 32, K = 256, N = 512;
    Generator gen(1);
    Tensor a = Tensor::randn({M, K}, gen), b = Tensor::randn({K, N}, gen), dy = Tensor::randn({M, N}, gen);
    a.set_requires_grad();
    b.set_requires_grad();
    const int reps = 200;
    BackwardOptions seeded;
    seeded.seed = dy;

    double tapegrad_s = median_seconds(reps, [&] {
        a.zero_grad();
        b.zero_grad();
        backward(matmul(a, b), seeded);
    });

    // The same three products on raw arrays, into preallocated outputs.
    std::vector<float> y(M * N), da(M * K), db(K * N);
    const float *pa = a.data<float>(), *pb = b.data<float>(), *pdy = dy.data<float>();
    double raw_s = median_seconds(reps, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, pa, K, pb, N, 0.f, y.data(), N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.f, pdy, N, pb, N, 0.f, da.data(), K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.f, pa, K, pdy, N, 0.f, db.data(), N);
    });

    double flops = 3 * 2.0 * M * N * K;
    double ratio = raw_s / tapegrad_s;
    fmt::print("matmul [32,256]x[256,512] fwd+bwd: tapegrad {:.1f} us ({:.1f} GFLOP/s), raw sgemm {:.1f} us "
               "({:.1f} GFLOP/s)\n", tapegrad_s * 1e6, flops / tapegrad_s * 1e-9, raw_s * 1e6, flops / raw_s * 1e-9);
    return {"matmul fwd+bwd [32,256]x[256,512]", fmt::format("{:.1f} GFLOP/s", flops / tapegrad_s * 1e-9),
            fmt::format("sgemm {:.1f} GFLOP/s", flops / raw_s * 1e-9), ratio, ">= 0.80", ratio >= 0.8};
}

// ---- elementwise -------------------------------------------------------------------------------

std::vector<Row> elementwise_vs_triad() {
    const int64_t n = 1 << 20;
    const int reps = 50;
    Generator gen(2);
    Tensor a = Tensor::randn({n}, gen), b = Tensor::randn({n}, gen);

    // Triad: reads b and c, writes a: 12 bytes per element.
    std::vector<float> ta(n), tb(a.to_vector<float>()), tc(b.to_vector<float>());
    float s = 0.5f;
    double triad_s = median_seconds(reps, [&] {
        float *pa = ta.data();
        const float *pb = tb.data(), *pc = tc.data();
#pragma omp parallel for simd
        for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    });
    double triad_gbs = 12.0 * n / triad_s * 1e-9;
    fmt::print("triad a = b + s c on 1M floats: {:.1f} GB/s\n", triad_gbs);

    NoGrad no_grad;
    struct Case {
        const char* name;
        double bytes_per_element;  // read inputs + write output
        std::function<Tensor()> run;
    };
    std::vector<Case> cases = {
        {"add", 12, [&] { return add(a, b); }},
        {"mul", 12, [&] { return mul(a, b); }},
        {"sigmoid", 8, [&] { return sigmoid(a); }},
    };
    std::vector<Row> rows;
    for (const Case& c : cases) {
        double seconds = median_seconds(reps, [&] { c.run(); });
        double gbs = c.bytes_per_element * n / seconds * 1e-9;
        double ratio = gbs / triad_gbs;
        fmt::print("{} on 1M floats: {:.1f} us, {:.1f} GB/s\n", c.name, seconds * 1e6, gbs);
        rows.push_back({fmt::format("{} 1M floats (GB/s)", c.name), fmt::format("{:.1f} GB/s", gbs),
                        fmt::format("triad {:.1f} GB/s", triad_gbs), ratio, ">= 0.50", ratio >= 0.5});
    }
    return rows;
}

// ---- BLAS kernel check -------------------------------------------------------------------------

// max over (i, j) of |C32 - C64| / (|A| |B|)_ij: the error relative to the size of the terms
// summed, whose float32 bound is about K * 2^-24 (each of K additions rounds once).
Row sgemm_accuracy() {
    const int64_t M = 64, K = 256, N = 128;
    Generator gen(3);
    std::vector<float> a = Tensor::randn({M, K}, gen).to_vector<float>();
    std::vector<float> b = Tensor::randn({K, N}, gen).to_vector<float>();
    std::vector<double> a64(a.begin(), a.end()), b64(b.begin(), b.end()), abs_a(M * K), abs_b(K * N);
    for (size_t i = 0; i < a.size(); ++i) abs_a[i] = std::fabs(a64[i]);
    for (size_t i = 0; i < b.size(); ++i) abs_b[i] = std::fabs(b64[i]);
    std::vector<float> c(M * N);
    std::vector<double> c64(M * N), magnitude(M * N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, a64.data(), K, b64.data(), N, 0.0,
                c64.data(), N);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, abs_a.data(), K, abs_b.data(), N, 0.0,
                magnitude.data(), N);
    double worst = 0;
    for (int64_t i = 0; i < M * N; ++i) worst = std::max(worst, std::fabs(c[i] - c64[i]) / magnitude[i]);
    double bound = K * std::ldexp(1.0, -24);
    fmt::print("sgemm [64,256]x[256,128] on core {} vs float64 dgemm: max relative error {:.2e} (bound {:.2e})\n",
               blas_info().core, worst, bound);
    return {"sgemm vs float64 (rel. error)", fmt::format("{:.2e}", worst), fmt::format("bound {:.2e}", bound),
            worst / bound, "<= 1.00", worst <= bound};
}

}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    fmt::print("{}\n\n", blas_summary());
    std::vector<Row> rows;
    rows.push_back(tape_overhead());
    rows.push_back(matmul_vs_sgemm());
    for (Row& r : elementwise_vs_triad()) rows.push_back(r);
    rows.push_back(sgemm_accuracy());
    print_table(rows);
    return 0;
}
