// Which OpenBLAS kernel set is fastest on this CPU? Runs itself once per kernel set (the
// detected one, Haswell, SkylakeX: OPENBLAS_CORETYPE is read only when OpenBLAS loads, so each
// needs its own process) and prints sgemm GFLOP/s for a small and a large product, and each
// kernel set's error against a float64 dgemm reference. cpu/blas_info.cpp picks the kernel set
// for `make run` and `make bench` from the CPU's instruction sets; this table checks that choice.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cpu/blas_info.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {

// Median GFLOP/s of C = A B, [m, k] x [k, n], and the largest |C - C64| / (|A| |B|) over C.
struct SgemmResult {
    double gflops, relative_error;
};

SgemmResult measure_sgemm(int64_t m, int64_t k, int64_t n, int repetitions) {
    Generator gen(7);
    std::vector<float> a = Tensor::randn({m, k}, gen).to_vector<float>();
    std::vector<float> b = Tensor::randn({k, n}, gen).to_vector<float>();
    std::vector<float> c(m * n);
    auto run = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(),
                    n);
    };
    run();
    std::vector<double> seconds;
    for (int r = 0; r < repetitions; ++r) {
        auto start = std::chrono::steady_clock::now();
        run();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());

    std::vector<double> a64(a.begin(), a.end()), b64(b.begin(), b.end()), c64(m * n), magnitude(m * n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a64.data(), k, b64.data(), n, 0.0,
                c64.data(), n);
    for (double& v : a64) v = std::fabs(v);
    for (double& v : b64) v = std::fabs(v);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a64.data(), k, b64.data(), n, 0.0,
                magnitude.data(), n);
    double worst = 0;
    for (int64_t i = 0; i < m * n; ++i) worst = std::max(worst, std::fabs(c[i] - c64[i]) / magnitude[i]);
    return {2.0 * m * n * k / seconds[seconds.size() / 2] * 1e-9, worst};
}

// Child process: one line "core small_gflops small_error large_gflops large_error".
void measure_this_core() {
    SgemmResult small = measure_sgemm(32, 256, 512, 400);
    SgemmResult large = measure_sgemm(1024, 1024, 1024, 15);
    fmt::print("{} {:.2f} {:.3e} {:.2f} {:.3e}\n", blas_info().core, small.gflops, small.relative_error,
               large.gflops, large.relative_error);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sgemm speed and accuracy of each OpenBLAS kernel set on this CPU"};
    bool measure = false;
    app.add_flag("--measure", measure, "(the child process) measure the kernel set this process runs, print one line");
    CLI11_PARSE(app, argc, argv);
    if (measure) {
        measure_this_core();
        return 0;
    }
    BlasInfo info = blas_info();
    fmt::print("{}\n", blas_summary());
    fmt::print("sgemm GFLOP/s per OpenBLAS kernel set (median; error = max |C - C64| / (|A||B|), float32 "
               "bound K * 2^-24)\n\n");
    fmt::print("{:<34} {:<10} {:>18} {:>12} {:>20} {:>12}\n", "OPENBLAS_CORETYPE", "core", "[32,256]x[256,512]",
               "error", "[1024,1024]x[1024^2]", "error");
    struct Choice {
        std::string label, environment;
    };
    std::vector<Choice> choices = {{"unset (OpenBLAS's own detection)", "env -u OPENBLAS_CORETYPE"},
                                   {"Haswell", "env OPENBLAS_CORETYPE=Haswell"},
                                   {"SkylakeX", "env OPENBLAS_CORETYPE=SkylakeX"}};
    for (const Choice& choice : choices) {
        std::string command = choice.environment + " /proc/" + std::to_string(getpid()) + "/exe --measure";
        FILE* child = popen(command.c_str(), "r");
        char core[64] = "";
        double small_gflops = 0, small_error = 0, large_gflops = 0, large_error = 0;
        bool ok = child && std::fscanf(child, "%63s %lf %lf %lf %lf", core, &small_gflops, &small_error,
                                       &large_gflops, &large_error) == 5;
        if (child) pclose(child);
        if (!ok) {
            fmt::print("{:<34} (could not run: {})\n", choice.label, command);
            continue;
        }
        fmt::print("{:<34} {:<10} {:>18.1f} {:>12.2e} {:>20.1f} {:>12.2e}\n", choice.label, core, small_gflops,
                   small_error, large_gflops, large_error);
    }
    fmt::print("\ncpu/blas_info.cpp picks {} for this CPU: use_fast_blas_kernels() runs `make run` and `make bench` "
               "on it (TAPEGRAD_BLAS_CORE pins another).\n", info.best_core);
    return 0;
}
