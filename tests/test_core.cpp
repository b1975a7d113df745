// Tensors: factories, values, printing, views, and the counter-based random numbers.
#define BOOST_TEST_MODULE core
#include <cmath>
#include <sstream>

#include "tests/test_helpers.h"

using namespace tapegrad;

BOOST_AUTO_TEST_CASE(factories_fill_values) {
    BOOST_CHECK(Tensor::zeros({2, 3}).to_vector<float>() == std::vector<float>(6, 0.0f));
    BOOST_CHECK(Tensor::ones({4}, DType::Float64).to_vector<double>() == std::vector<double>(4, 1.0));
    BOOST_CHECK(Tensor::full({2}, 2.5).to_vector<float>() == (std::vector<float>{2.5f, 2.5f}));
    BOOST_CHECK(Tensor::arange(4, DType::Int64).to_vector<int64_t>() == (std::vector<int64_t>{0, 1, 2, 3}));
    BOOST_CHECK_EQUAL(Tensor::scalar(7.0).item(), 7.0);
    BOOST_CHECK(Tensor::scalar(7.0).shape().empty());
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 1}, {2});
    BOOST_CHECK(ids.dtype() == DType::Int64);
    BOOST_CHECK_EQUAL(Tensor::zeros({2, 3, 4}).numel(), 24);
    BOOST_CHECK_EQUAL(Tensor::zeros({2, 3, 4}).size(-1), 4);
    BOOST_CHECK_EQUAL(Tensor::zeros({0, 3}).numel(), 0);
    BOOST_CHECK_EQUAL(Tensor::zeros({2, 3}, DType::Float64).describe(), "[2, 3] float64 cpu");
}

BOOST_AUTO_TEST_CASE(random_is_seeded_and_distributed) {
    Generator a(42), b(42), c(43);
    std::vector<double> x = Tensor::randn({20000}, a, DType::Float64).to_vector<double>();
    BOOST_CHECK(x == Tensor::randn({20000}, b, DType::Float64).to_vector<double>());
    BOOST_CHECK(x != Tensor::randn({20000}, c, DType::Float64).to_vector<double>());
    double mean = 0, var = 0;
    for (double v : x) mean += v / x.size();
    for (double v : x) var += (v - mean) * (v - mean) / x.size();
    BOOST_CHECK_SMALL(mean, 0.03);
    BOOST_CHECK_CLOSE(var, 1.0, 3.0);
    std::vector<double> u = Tensor::uniform({20000}, -2, 3, a, DType::Float64).to_vector<double>();
    double lo = 1e9, hi = -1e9, umean = 0;
    for (double v : u) lo = std::min(lo, v), hi = std::max(hi, v), umean += v / u.size();
    BOOST_CHECK(lo >= -2 && hi < 3);
    BOOST_CHECK_SMALL(umean - 0.5, 0.05);
    // Draws advance the stream: the second draw differs from the first.
    Generator d(42);
    BOOST_CHECK(Tensor::randn({4}, d).to_vector<float>() != Tensor::randn({4}, d).to_vector<float>());
}

BOOST_AUTO_TEST_CASE(philox_depends_only_on_seed_and_index) {
    BOOST_CHECK_EQUAL(philox_uniform(7, 1000), philox_uniform(7, 1000));
    BOOST_CHECK_NE(philox_uniform(7, 1000), philox_uniform(7, 1001));
    BOOST_CHECK_NE(philox_uniform(7, 1000), philox_uniform(8, 1000));
    // Known answer: Random123's kat_vectors for philox4x32_10 with counter and key zero.
    Philox4 r = philox4x32(0, 0);
    BOOST_CHECK_EQUAL(r.v[0], 0x6627e8d5u);
    BOOST_CHECK_EQUAL(r.v[1], 0xe169c58du);
    BOOST_CHECK_EQUAL(r.v[2], 0xbc57ac4cu);
    BOOST_CHECK_EQUAL(r.v[3], 0x9b00dbd8u);
    // Generator offsets: element i of a draw is philox(seed, first + i).
    Generator gen(5);
    gen.take(10);
    double v = Tensor::uniform({1}, 0, 1, gen, DType::Float64).item();
    BOOST_CHECK_EQUAL(v, philox_uniform(5, 10));
}

BOOST_AUTO_TEST_CASE(printing_shows_shape_and_values) {
    std::ostringstream out;
    out << Tensor::from_vector(std::vector<double>{1, 2.5, -3, 4, 5, 6}, {2, 3});
    BOOST_CHECK_EQUAL(out.str(), "Tensor[2, 3] float64 cpu\n[[1, 2.5, -3],\n [4, 5, 6]]");
    std::ostringstream long_out;
    long_out << Tensor::arange(10, DType::Int64);
    BOOST_CHECK_EQUAL(long_out.str(), "Tensor[10] int64 cpu\n[0, 1, 2, ..., 7, 8, 9]");
}

// An empty tensor copies to and from an empty vector, whose data() is null: the CPU backend
// passed that null to memcpy, undefined even for 0 bytes. Fails under SAN=1 (UBSan) if it returns;
// found by fuzz/fuzz_checkpoint (an empty "optimizer.step").
BOOST_AUTO_TEST_CASE(empty_tensors_copy_to_and_from_vectors) {
    Tensor empty = Tensor::from_vector(std::vector<int64_t>{}, {0});
    BOOST_CHECK_EQUAL(empty.numel(), 0);
    BOOST_CHECK(empty.to_vector<int64_t>().empty());
    BOOST_CHECK(Tensor::zeros({0, 3}).to_vector<float>().empty());
}

BOOST_AUTO_TEST_CASE(reshape_and_detach_share_storage) {
    Tensor x = Tensor::arange(6, DType::Float64);
    Tensor y = reshape(x, {2, 3});
    Tensor d = x.detach();
    BOOST_CHECK_EQUAL(y.raw_data(), x.raw_data());
    BOOST_CHECK_EQUAL(d.raw_data(), x.raw_data());
    Tensor t = transpose(y, 0, 1);  // a copy
    BOOST_CHECK_NE(t.raw_data(), x.raw_data());
}
