// Which library multiplies the cells' matrices fastest on this CPU: OpenBLAS, libxsmm and BLIS on
// the shapes the cells run, on one thread and on two (the columns of C split in two halves, one
// single-threaded library call per half on the CPU backend's threads, cpu/cpu_threads.h), and the
// path the CPU backend chose (cpu/cpu_gemm.h) on its default threads.
//
// Shapes (B = 32, T = 256, E = H = 128 as in bench_cells; PR-LSTM B = 128, H = 256 as in
// bench_pr_lstm):
//   per-step  h U^T         [32, 128] x [128, 512]    (LSTM; GRU 384, RNN 128 columns)
//   per-step  dz U          [32, 512] x [512, 128]
//   merge     x W^T         [rows, 512] x [512, 1280]  rows = 128 .. 2560 (PR-LSTM's tree levels)
//   merge dx  dy W          [rows, 1280] x [1280, 512]
//   hoisted   X W_ih^T      [8192, 128] x [128, 512]
//   weight    dZ^T X        [512, 8192] x [8192, 128]
// Every product is C [M, N] = A [M, K] B [K, N], row-major, with B stored [K, N]: a weight the
// backend multiplies by many times is prepared in that layout once, as the recurrent loop does.
// libxsmm is column-major and JIT-compiles one kernel per (M, N, K): C^T = B^T A^T there; it is
// timed only on the small products it exists for.
//
// Run it as `build/bench/bench_gemm`; `make bench ARCH=x86-64-v3` runs OpenBLAS's and libxsmm's AVX2
// kernels on an AVX-512 CPU (Debian's BLIS runs its AVX2 "haswell" kernels on both). Each figure is the median of interleaved rounds (one call of each candidate per round).
#include <cblas.h>
#include <libxsmm.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <blis.h>

#include <CLI/CLI.hpp>

#include "bench/bench_timing.h"
#include "cpu/blas_info.h"
#include "cpu/cpu_gemm.h"
#include "cpu/cpu_threads.h"

namespace {

struct Shape {
    const char* name;
    int m, n, k;
    int calls;  // calls per timed round (small products are timed 64 at a time)
    bool small;  // a product libxsmm is meant for
};

struct Matrices {
    std::vector<float> a, b, c;
    explicit Matrices(const Shape& s) : a(size_t(s.m) * s.k), b(size_t(s.k) * s.n), c(size_t(s.m) * s.n) {
        for (size_t i = 0; i < a.size(); ++i) a[i] = float(std::sin(0.1 * double(i)));
        for (size_t i = 0; i < b.size(); ++i) b[i] = float(std::cos(0.07 * double(i)));
    }
};

// C[:, n0:n0+cols] = A B[:, n0:n0+cols] on the calling thread, one call of each library.
void openblas_part(const Shape& s, Matrices& x, int n0, int cols) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, cols, s.k, 1.0f, x.a.data(), s.k, x.b.data() + n0,
                s.n, 0.0f, x.c.data() + n0, s.n);
}
void blis_part(const Shape& s, Matrices& x, int n0, int cols) {
    float one = 1.0f, zero = 0.0f;
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, s.m, cols, s.k, &one, x.a.data(), s.k, 1, x.b.data() + n0, s.n, 1,
              &zero, x.c.data() + n0, s.n, 1);
}
void xsmm_part(const Shape& s, Matrices& x, int n0, int cols) {
    // Column-major C^T [cols, M] = B^T [cols, K] A^T [K, M]; the kernel is looked up in libxsmm's
    // registry on every call (a hash lookup), as a caller without a cache of its own would.
    const libxsmm_blasint lda = s.n, ldb = s.k, ldc = s.n;
    const float one = 1.0f, zero = 0.0f;
    libxsmm_smmfunction kernel = libxsmm_smmdispatch(cols, s.m, s.k, &lda, &ldb, &ldc, &one, &zero, nullptr, nullptr);
    if (kernel) kernel(x.b.data() + n0, x.a.data(), x.c.data() + n0);
}

using Part = void (*)(const Shape&, Matrices&, int, int);

// The whole product on `threads` threads: the columns cut into equal halves (a multiple of 16).
void split(Part part, const Shape& s, Matrices& x, int threads) {
    if (threads == 1) return part(s, x, 0, s.n);
    const int half = (s.n / 2 + 15) / 16 * 16;
    tapegrad::parallel_chunks(2, [&](int64_t id) { part(s, x, id == 0 ? 0 : half, id == 0 ? half : s.n - half); });
}

// The CPU backend's own path: its choice of library per block, its blocks, its threads.
void tapegrad_path(const Shape& s, Matrices& x) {
    tapegrad::GemmPart<float> p;
    p.m = s.m, p.n = s.n, p.k = s.k;
    p.a = x.a.data(), p.lda = s.k;
    p.b = x.b.data(), p.ldb = s.n;
    p.c = x.c.data(), p.ldc = s.n;
    tapegrad::cpu_gemm(&p, 1);
}

// The largest |C - reference| over |reference|, so that no fast wrong answer wins.
double error_against(const std::vector<float>& c, const std::vector<float>& reference) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        worst = std::max(worst, std::fabs(double(c[i]) - double(reference[i])));
        scale = std::max(scale, std::fabs(double(reference[i])));
    }
    return worst / std::max(scale, 1e-30);
}

struct Candidate {
    std::string name;
    std::function<void(const Shape&, Matrices&)> run;
    bool small_only;
};

}  // namespace

int main(int argc, char** argv) {
    tapegrad::use_fast_blas_kernels(argc, argv);  // may restart the program with other OpenBLAS kernels
    CLI::App app{"OpenBLAS, libxsmm and BLIS on the matrix products of the cells, one and two threads"};
    CLI11_PARSE(app, argc, argv);
    std::printf("%s\n", tapegrad::blas_summary().c_str());
    libxsmm_init();
    std::printf("libxsmm %s, target %s; BLIS %s, kernels %s\n", LIBXSMM_VERSION, libxsmm_get_target_arch(),
                bli_info_get_version_str(), bli_arch_string(bli_arch_query_id()));
    tapegrad::bench::warn_if_loaded();

    const std::vector<Shape> shapes = {
        {"per-step h U^T (LSTM)", 32, 512, 128, 64, true},
        {"per-step h U^T (GRU)", 32, 384, 128, 64, true},
        {"per-step h U^T (RNN)", 32, 128, 128, 64, true},
        {"per-step dz U (LSTM)", 32, 128, 512, 64, true},
        {"merge x W^T, 128 rows", 128, 1280, 512, 4, false},
        {"merge x W^T, 640 rows", 640, 1280, 512, 1, false},
        {"merge x W^T, 2560 rows", 2560, 1280, 512, 1, false},
        {"merge dy W, 640 rows", 640, 512, 1280, 1, false},
        {"hoisted X W_ih^T", 8192, 512, 128, 1, false},
        {"weight dZ^T X", 512, 128, 8192, 1, false},
    };
    const std::vector<Candidate> candidates = {
        {"OpenBLAS 1t", [](const Shape& s, Matrices& x) { split(openblas_part, s, x, 1); }, false},
        {"OpenBLAS 2 x 1t (split)", [](const Shape& s, Matrices& x) { split(openblas_part, s, x, 2); }, false},
        {"BLIS 1t", [](const Shape& s, Matrices& x) { split(blis_part, s, x, 1); }, false},
        {"BLIS 2 x 1t (split)", [](const Shape& s, Matrices& x) { split(blis_part, s, x, 2); }, false},
        {"libxsmm 1t", [](const Shape& s, Matrices& x) { split(xsmm_part, s, x, 1); }, true},
        {"libxsmm 2 x 1t (split)", [](const Shape& s, Matrices& x) { split(xsmm_part, s, x, 2); }, true},
        {"tapegrad's choice", tapegrad_path, false},
    };

    for (const Shape& s : shapes) {
        Matrices x(s);
        openblas_part(s, x, 0, s.n);
        const std::vector<float> reference = x.c;
        std::vector<const Candidate*> run;
        for (const Candidate& c : candidates)
            if (!c.small_only || s.small) run.push_back(&c);
        std::vector<std::vector<double>> times(run.size());
        std::vector<double> errors(run.size());
        for (size_t i = 0; i < run.size(); ++i) {  // warm-up (JIT, buffers) and the correctness check
            std::fill(x.c.begin(), x.c.end(), 0.0f);
            run[i]->run(s, x);
            errors[i] = error_against(x.c, reference);
        }
        const int rounds = 21;
        for (int r = 0; r < rounds; ++r)
            for (size_t i = 0; i < run.size(); ++i) {
                const double start = tapegrad::bench::now_seconds();
                for (int c = 0; c < s.calls; ++c) run[i]->run(s, x);
                times[i].push_back((tapegrad::bench::now_seconds() - start) / s.calls);
            }
        std::printf("\n%s: [%d, %d] x [%d, %d]\n", s.name, s.m, s.k, s.k, s.n);
        const double base = tapegrad::bench::median(times[0]);
        for (size_t i = 0; i < run.size(); ++i) {
            const double t = tapegrad::bench::median(times[i]);
            std::printf("  %-28s %9.1f us  %6.1f GFLOP/s  %5.2fx OpenBLAS 1t  error %.1e%s\n", run[i]->name.c_str(),
                        t * 1e6, 2.0 * s.m * s.n * s.k / t / 1e9, t / base, errors[i],
                        errors[i] > 1e-5 ? "  WRONG" : "");
        }
    }
    libxsmm_finalize();
    return 0;
}
