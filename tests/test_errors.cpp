// Misuse throws tapegrad::Error naming the op, what it got and what it expected.
#define BOOST_TEST_MODULE errors
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "models/checkpoint.h"
#include "models/layers.h"
#include "models/metrics.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

BOOST_AUTO_TEST_CASE(shape_mismatch_names_op_and_shapes) {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
    TAPEGRAD_CHECK_ERROR(a + b, "add", "[2, 3]", "[4]");
    TAPEGRAD_CHECK_ERROR(matmul(Tensor::zeros({32, 128}), Tensor::zeros({256, 512})), "matmul",
                         "inner dimensions", "[32, 128]", "[256, 512]");
    TAPEGRAD_CHECK_ERROR(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})), "matmul", "batch");
    TAPEGRAD_CHECK_ERROR(matmul(Tensor::zeros({3}), Tensor::zeros({3, 4})), "matmul", "at least 2 dims");
    TAPEGRAD_CHECK_ERROR(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}), Tensor()), "linear", "[2, 3]", "[4, 5]");
    TAPEGRAD_CHECK_ERROR(linear(Tensor::zeros({2, 5}), Tensor::zeros({4, 5}), Tensor::zeros({5})), "linear", "bias");
    TAPEGRAD_CHECK_ERROR(concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1), "concat", "[3, 3]", "[2, 3]");
    TAPEGRAD_CHECK_ERROR(stack({Tensor::zeros({2}), Tensor::zeros({3})}, 0), "stack", "[3]");
    TAPEGRAD_CHECK_ERROR(concat({Tensor::zeros({2, 3}), Tensor::zeros({2})}, 1), "concat", "[2]", "[2, 3]");
    TAPEGRAD_CHECK_ERROR(reshape(Tensor::zeros({2, 3}), {4, 2}), "reshape", "[4, 2]", "6 elements");
    TAPEGRAD_CHECK_ERROR(split(Tensor::zeros({5}), {2, 2}, 0), "split", "sum to 4");
    TAPEGRAD_CHECK_ERROR(chunk(Tensor::zeros({5}), 2, 0), "chunk", "2 equal pieces");
    TAPEGRAD_CHECK_ERROR(squeeze(Tensor::zeros({2, 3}), 0), "squeeze", "extent 2");
    TAPEGRAD_CHECK_ERROR(permute(Tensor::zeros({2, 3}), {0, 0}), "permute", "permutation");
    TAPEGRAD_CHECK_ERROR(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), "from_vector", "3 values", "[2, 2]");
}

BOOST_AUTO_TEST_CASE(bad_axis) {
    Tensor x = Tensor::zeros({2, 3});
    TAPEGRAD_CHECK_ERROR(sum(x, 2), "sum", "axis 2", "2 dims");
    TAPEGRAD_CHECK_ERROR(softmax(x, -3), "softmax", "axis -3");
    TAPEGRAD_CHECK_ERROR(slice(x, 5, 0, 1), "slice", "axis 5");
    TAPEGRAD_CHECK_ERROR(max(x, 3), "max", "axis 3");
    TAPEGRAD_CHECK_ERROR(transpose(x, 0, 2), "transpose", "axis 2");
}

BOOST_AUTO_TEST_CASE(mixing_dtypes) {
    Tensor f = Tensor::zeros({2}, DType::Float32), d = Tensor::zeros({2}, DType::Float64);
    TAPEGRAD_CHECK_ERROR(f * d, "mul", "float32", "float64", "different dtypes");
    TAPEGRAD_CHECK_ERROR(matmul(Tensor::zeros({2, 2}), Tensor::zeros({2, 2}, DType::Float64)), "matmul", "dtypes");
    TAPEGRAD_CHECK_ERROR(concat({f, d}, 0), "concat", "dtypes");
    TAPEGRAD_CHECK_ERROR(exp(Tensor::zeros({2}, DType::Int64)), "exp", "int64");
    TAPEGRAD_CHECK_ERROR(f.data<double>(), "data", "float32");
    TAPEGRAD_CHECK_ERROR(f.to_vector<int64_t>(), "to_vector", "int64");
    Tensor ints = Tensor::zeros({2}, DType::Int64);
    TAPEGRAD_CHECK_ERROR(ints.set_requires_grad(), "set_requires_grad", "int64");
}

BOOST_AUTO_TEST_CASE(index_out_of_range) {
    Tensor table = Tensor::zeros({5, 3});
    TAPEGRAD_CHECK_ERROR(index_select(table, 0, Tensor::from_vector(std::vector<int64_t>{1, 5}, {2})),
                         "index_select", "index 5", "position 1", "< 5");
    TAPEGRAD_CHECK_ERROR(index_select(table, 0, Tensor::from_vector(std::vector<int64_t>{-1}, {1})),
                         "index_select", "index -1");
    TAPEGRAD_CHECK_ERROR(index_select(table, 0, Tensor::zeros({2})), "index_select", "int64", "float32");
    TAPEGRAD_CHECK_ERROR(gather(table, 1, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 0}, {5})), "gather",
                         "index 3");
    TAPEGRAD_CHECK_ERROR(gather(table, 1, Tensor::from_vector(std::vector<int64_t>{0, 1}, {2})), "gather", "[2]",
                         "[5]");
    TAPEGRAD_CHECK_ERROR(cross_entropy(Tensor::zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})),
                         "cross_entropy", "index 3", "< 3");
    TAPEGRAD_CHECK_ERROR(cross_entropy(Tensor::zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0}, {1})),
                         "cross_entropy", "targets");
    TAPEGRAD_CHECK_ERROR(slice(Tensor::zeros({4}), 0, 2, 6), "slice", "[2, 6)", "<= 4");
}

BOOST_AUTO_TEST_CASE(scalar_and_value_misuse) {
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({2, 2}).item(), "item", "4 elements");
    Generator gen(1);
    TAPEGRAD_CHECK_ERROR(dropout(Tensor::zeros({2}), 1.0, gen), "dropout", "p = 1");
    TAPEGRAD_CHECK_ERROR(dropout(Tensor::zeros({2}), -0.1, gen), "dropout", "p = -0.1");
    TAPEGRAD_CHECK_ERROR(Tensor::empty({2, -1}), "empty", "negative");
    TAPEGRAD_CHECK_ERROR(Tensor().shape(), "undefined");
}

BOOST_AUTO_TEST_CASE(errors_derive_from_runtime_error) {
    try {
        Tensor::zeros({2}) + Tensor::zeros({3});
        BOOST_FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
        BOOST_CHECK(std::string(e.what()).rfind("add: ", 0) == 0);
    }
}

// A shape whose element count does not fit in 64 bits is refused wherever a shape enters: a new
// tensor, a reshape, a checkpoint's header (where it used to wrap to 0 elements and load as a
// tensor whose reads ran out of bounds).
BOOST_AUTO_TEST_CASE(shape_overflow_is_an_error) {
    const int64_t big = int64_t(1) << 32;
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({big, big}), "empty", "[4294967296, 4294967296]", "2^63 bytes");
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({int64_t(1) << 62}, DType::Float64), "empty", "2^63 bytes");
    TAPEGRAD_CHECK_ERROR(reshape(Tensor::zeros({0}), {big, big, 0}), "reshape", "[4294967296, 4294967296, 0]", "64 bits");
    TAPEGRAD_CHECK_ERROR(Tensor::from_blob(nullptr, {3}, DType::Float32), "from_blob", "null data", "[3]");

    const std::string path = "/tmp/tapegrad_test_overflow_" + std::to_string(::getpid()) + ".safetensors";
    const std::string header = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
    {
        std::ofstream out(path, std::ios::binary);
        const uint64_t length = header.size();
        for (int i = 0; i < 8; ++i) out.put(char((length >> (8 * i)) & 0xff));
        out << header;
    }
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "'w'", "[4294967296, 4294967296]");
    std::remove(path.c_str());
}

// Broadcasting by the standard rule: an extent of 1 takes the other operand's, 0 included
// ([0, 3] + [3] is [0, 3], [2, 0] + [2, 1] is [2, 0]), forward and backward.
BOOST_AUTO_TEST_CASE(broadcasting_keeps_zero_extents) {
    Tensor a = Tensor::zeros({0, 3}, DType::Float64).set_requires_grad(), b = Tensor::ones({3}, DType::Float64).set_requires_grad();
    Tensor y = a + b;
    BOOST_CHECK_EQUAL(to_string(y.shape()), "[0, 3]");
    backward(sum(y));
    BOOST_CHECK_EQUAL(to_string(a.grad().shape()), "[0, 3]");
    BOOST_CHECK_EQUAL(to_string(b.grad().shape()), "[3]");
    for (double g : b.grad().to_double_vector()) BOOST_CHECK_EQUAL(g, 0.0);  // summed over no rows

    Tensor c = Tensor::zeros({2, 0}, DType::Float64).set_requires_grad(), d = Tensor::ones({2, 1}, DType::Float64).set_requires_grad();
    Tensor z = c * d;
    BOOST_CHECK_EQUAL(to_string(z.shape()), "[2, 0]");
    backward(sum(z));
    BOOST_CHECK_EQUAL(to_string(d.grad().shape()), "[2, 1]");
    for (double g : d.grad().to_double_vector()) BOOST_CHECK_EQUAL(g, 0.0);
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({0}) + Tensor::zeros({5}), "add", "[0]", "[5]");
}

// Zero-size semantics as PyTorch's: the sum of nothing is 0, the mean of nothing NaN (0 / 0),
// linear with no input features is its bias broadcast, a product with K = 0 is zeros, LayerNorm
// over a 0-wide axis gives an empty result of the input's shape; gradients keep their shapes.
BOOST_AUTO_TEST_CASE(zero_size_semantics_follow_pytorch) {
    const Tensor empty = Tensor::zeros({0, 3}, DType::Float64);
    BOOST_CHECK_EQUAL(sum(empty).item(), 0.0);
    BOOST_CHECK(std::isnan(mean(empty).item()));
    for (double v : sum(Tensor::zeros({2, 0}), 1).to_double_vector()) BOOST_CHECK_EQUAL(v, 0.0);
    for (double v : mean(Tensor::zeros({2, 0}), 1).to_double_vector()) BOOST_CHECK(std::isnan(v));
    BOOST_CHECK(std::isnan(cross_entropy(Tensor::zeros({0, 3}), Tensor::zeros({0}, DType::Int64)).item()));
    BOOST_CHECK(std::isnan(accuracy(Tensor::zeros({0, 3}), Tensor::zeros({0}, DType::Int64))));

    Tensor x = Tensor::ones({2, 0}, DType::Float64).set_requires_grad();
    Tensor w = Tensor::ones({4, 0}, DType::Float64).set_requires_grad();
    Tensor b = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4}).set_requires_grad();
    Tensor y = linear(x, w, b);
    BOOST_CHECK_EQUAL(to_string(y.shape()), "[2, 4]");
    BOOST_CHECK(y.to_double_vector() == (std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4}));
    backward(sum(y));
    BOOST_CHECK(b.grad().to_double_vector() == (std::vector<double>{2, 2, 2, 2}));
    BOOST_CHECK_EQUAL(to_string(x.grad().shape()), "[2, 0]");
    BOOST_CHECK_EQUAL(to_string(w.grad().shape()), "[4, 0]");

    Tensor k0 = matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3}));
    BOOST_CHECK(k0.to_double_vector() == std::vector<double>(6, 0.0));
    BOOST_CHECK_EQUAL(to_string(LayerNorm(0).forward(Tensor::ones({2, 0})).shape()), "[2, 0]");
    BOOST_CHECK_EQUAL(to_string((transpose(Tensor::zeros({2, 0, 3}), 0, 2) + 1.0).shape()), "[3, 0, 2]");
}
