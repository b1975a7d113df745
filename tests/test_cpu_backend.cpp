// The CPU backend's threads (cpu/cpu_threads.h) and its choice of matrix-product library
// (cpu/cpu_gemm.h): every chunk of a loop runs exactly once, whoever calls, however nested; and the
// chosen path is not slower than plain cblas_sgemm on this CPU for a recurrent step's products.
// Its fused broadcast backward gives what the plain path gives.
#define BOOST_TEST_MODULE cpu_backend
#include <boost/test/unit_test.hpp>

#include <cblas.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bench/bench_timing.h"
#include "cpu/blas_info.h"
#include "core/layout.h"
#include "cpu/cpu_threads.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using tapegrad::testing::input;

namespace {

// Runs `loops` loops of `chunks` chunks and checks each chunk ran once per loop.
void check_every_chunk_once(int64_t chunks, int loops) {
    std::vector<std::atomic<int>> runs(static_cast<size_t>(chunks));
    for (int loop = 0; loop < loops; ++loop)
        parallel_chunks(chunks, [&](int64_t i) { runs[size_t(i)].fetch_add(1, std::memory_order_relaxed); });
    for (int64_t i = 0; i < chunks; ++i) BOOST_REQUIRE_EQUAL(runs[size_t(i)].load(), loops);
}

struct RestoreThreads {
    int before = num_threads();
    ~RestoreThreads() { set_num_threads(before); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_chunk_runs_once_on_any_thread_count) {
    RestoreThreads restore;
    for (int threads : {1, 2, 3, 4}) {
        set_num_threads(threads);
        for (int64_t chunks : {1, 2, 3, 7, 64, 256}) check_every_chunk_once(chunks, 2000 / int(chunks) + 1);
    }
}

BOOST_AUTO_TEST_CASE(nested_and_concurrent_loops) {
    RestoreThreads restore;
    set_num_threads(2);
    // A loop inside a chunk runs on that chunk's thread.
    std::vector<std::atomic<int>> inner(64);
    parallel_chunks(8, [&](int64_t i) {
        parallel_chunks(8, [&](int64_t j) { inner[size_t(i * 8 + j)].fetch_add(1); });
    });
    for (auto& count : inner) BOOST_CHECK_EQUAL(count.load(), 1);
    // Two threads of the program running loops at once: one uses the pool, the other runs its own
    // chunks; both see every chunk once.
    std::thread other([] { check_every_chunk_once(16, 500); });
    check_every_chunk_once(16, 500);
    other.join();
}

BOOST_AUTO_TEST_CASE(parallel_for_covers_the_range) {
    RestoreThreads restore;
    set_num_threads(3);
    for (int64_t count : {0, 1, 100, 40000, 1 << 20}) {
        std::vector<int> hits(size_t(count), 0);
        int* p = hits.data();
        parallel_for(count, count, [=](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) p[i] += 1;
        });
        for (int64_t i = 0; i < count; ++i) BOOST_REQUIRE_EQUAL(hits[size_t(i)], 1);
    }
}

BOOST_AUTO_TEST_CASE(bad_thread_counts_are_errors) {
    TAPEGRAD_CHECK_ERROR(set_num_threads(0), "set_num_threads", "0");
    BOOST_TEST_MESSAGE(thread_summary());
}

// Subnormal results are flushed to zero on the calling thread and on the pool's workers (a loop
// large enough to run in many chunks), unless TAPEGRAD_DENORMALS=keep.
BOOST_AUTO_TEST_CASE(subnormals_are_flushed_to_zero_by_default) {
    if (!thread_policy().flush_denormals) {
        BOOST_TEST_MESSAGE("TAPEGRAD_DENORMALS=keep: nothing to check");
        return;
    }
    RestoreThreads restore;
    set_num_threads(2);
    const int64_t n = 1 << 20;
    Tensor x = Tensor::full({n}, 1e-30, DType::Float32);
    const std::vector<double> y = (x * 1e-10).to_double_vector();  // 1e-40: a float32 subnormal
    int64_t nonzero = 0;
    for (double v : y) nonzero += v != 0.0;
    BOOST_CHECK_EQUAL(nonzero, 0);
}

// The chosen path (a weight prepared once, products by Backend::gemm_packed and Backend::gemm on
// one thread, so that the library choice is measured and not the threads) against cblas_sgemm for
// the LSTM's per-step products at B = 32, H = 128: h U^T [32, 128] x [128, 512] (gate-major) and
// dz U [32, 512] x [512, 128]. The median over interleaved rounds of the time ratio must be at most
// 1.5: generous for timing noise, and a collapse like the 19x of the hand-written kernel on AVX2
// fails it on whatever CPU runs the tests.
BOOST_AUTO_TEST_CASE(chosen_matrix_product_path_is_not_slower_than_cblas) {
    BOOST_TEST_MESSAGE(blas_summary());
    RestoreThreads restore;
    set_num_threads(1);
    Backend& cpu = backend_for(Device::cpu());
    const int64_t b = 32, h = 128, g = 4 * h;
    auto make = [](const Shape& shape, uint64_t seed) { return to(input(shape, seed), DType::Float32).detach(); };
    Tensor hs = make({b, h}, 1), dz = make({b, g}, 2), u = make({g, h}, 3);
    Tensor z = Tensor::empty({4, b, h}), dh = Tensor::empty({b, h}), z_blas = Tensor::empty({b, g});
    const PackedMatrix forward = cpu.pack_matrix(u, /*transpose=*/true, 4);
    GemmArgs backward;
    backward.m = b, backward.n = h, backward.k = g;
    backward.a = dz.raw_data(), backward.lda = g;
    backward.b = u.raw_data(), backward.ldb = h;
    backward.c = dh.raw_data(), backward.ldc = h;
    const int calls = 64;
    const bench::PairedTimes t = bench::paired_median_seconds(
        31,
        [&] {
            for (int i = 0; i < calls; ++i) {
                cpu.gemm_packed(hs, forward, nullptr, Tensor(), 0.0, z);
                cpu.gemm(backward);
            }
        },
        [&] {
            for (int i = 0; i < calls; ++i) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, g, h, 1.0f, hs.data<float>(), h,
                            u.data<float>(), h, 0.0f, z_blas.data<float>(), g);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, h, g, 1.0f, dz.data<float>(), g,
                            u.data<float>(), h, 0.0f, dh.data<float>(), h);
            }
        });
    BOOST_TEST_MESSAGE("LSTM per-step products, chosen path / cblas_sgemm: " << t.ratio << " (" << t.step_s * 1e6 / calls
                                                                             << " vs " << t.floor_s * 1e6 / calls
                                                                             << " us per step)");
    BOOST_CHECK_MESSAGE(t.ratio <= 1.5, "the chosen matrix-product path takes " << t.ratio
                                                                               << "x the time of cblas_sgemm on this CPU ("
                                                                               << blas_summary() << ")");
}

// binary_backward sums a broadcast operand's gradient inside its pass over dL/dy (the CPU's fused
// forms). The plain path: both operands broadcast to the output's shape, the same-shape backward
// there, then each gradient summed back to its operand's shape (sum_to). Both, written fresh and
// added onto an earlier gradient, for every binary rule.
BOOST_AUTO_TEST_CASE(fused_broadcast_backward_matches_the_plain_path) {
    Backend& cpu = backend_for(Device::cpu());
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{4, 1, 6}, {3, 6}}, {{5, 7}, {7}}, {{2, 3, 1}, {1, 3, 4}}, {{3, 1}, {3, 40}}, {{1, 5}, {6, 5}}};
    for (int id = 0; id < BinaryRules::size; ++id) {
        for (const auto& [shape_a, shape_b] : shapes) {
            for (bool accumulate : {false, true}) {
                BOOST_TEST_CONTEXT(BinaryRules::name(id) << " " << to_string(shape_a) << " " << to_string(shape_b)
                                                        << (accumulate ? " adding" : " fresh")) {
                    const BinaryOp op = BinaryOp(id);
                    Tensor a = input(shape_a, 1, 0.2, 1.0), b = input(shape_b, 2, 0.2, 1.0);
                    const Shape out = broadcast_shapes("test", shape_a, shape_b);
                    Tensor gy = input(out, 3);
                    Tensor earlier_a = input(shape_a, 4), earlier_b = input(shape_b, 5);

                    Tensor fused_a = accumulate ? Tensor::from_vector(earlier_a.to_double_vector(), shape_a) : Tensor::empty(shape_a, DType::Float64);
                    Tensor fused_b = accumulate ? Tensor::from_vector(earlier_b.to_double_vector(), shape_b) : Tensor::empty(shape_b, DType::Float64);
                    cpu.binary_backward(op, broadcast_plan(shape_a, shape_b, out), a, b, gy, {&fused_a, accumulate},
                                        {&fused_b, accumulate});

                    auto expand = [&](const Tensor& x) {
                        Tensor full = Tensor::empty(out, DType::Float64);
                        cpu.broadcast_add(alias_with_shape(x, padded_to(x.shape(), out.size())), full, 1.0, false);
                        return full;
                    };
                    Tensor full_a = expand(a), full_b = expand(b);
                    Tensor grad_a = Tensor::empty(out, DType::Float64), grad_b = Tensor::empty(out, DType::Float64);
                    cpu.binary_backward(op, broadcast_plan(out, out, out), full_a, full_b, gy, {&grad_a, false},
                                        {&grad_b, false});
                    auto summed = [&](const Tensor& grad, const Tensor& earlier) {
                        Tensor g = accumulate ? Tensor::from_vector(earlier.to_double_vector(), earlier.shape()) : Tensor::zeros(earlier.shape(), DType::Float64);
                        Tensor view = alias_with_shape(g, padded_to(g.shape(), out.size()));
                        cpu.sum_to(grad, view, 1.0);
                        return g;
                    };
                    Tensor plain_a = summed(grad_a, earlier_a), plain_b = summed(grad_b, earlier_b);
                    for (auto [fused, plain] : {std::pair{fused_a, plain_a}, std::pair{fused_b, plain_b}}) {
                        std::vector<double> f = fused.to_double_vector(), p = plain.to_double_vector();
                        for (size_t i = 0; i < f.size(); ++i)
                            BOOST_CHECK_MESSAGE(std::fabs(f[i] - p[i]) <= 1e-13 * (1 + std::fabs(p[i])),
                                                "element " << i << ": fused " << f[i] << ", plain " << p[i]);
                    }
                }
            }
        }
    }
}
