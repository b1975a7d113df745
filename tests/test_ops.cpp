// Every op: a float64 finite-difference gradient check (through a random projection, see
// autograd/gradcheck.h) of every case of the op table (tests/op_table.cpp: small non-square
// shapes, broadcasting cases included), checks that the table leaves no op out, and forward
// values checked against numbers worked out by hand; and that the op catalogue, docs/OPS.md, is
// what the table gives.
#define BOOST_TEST_MODULE ops
#include <algorithm>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "models/metrics.h"
#include "models/recurrent_linear.h"  // the recurrent cells' product, an op on the tape
#include "tests/op_catalogue.h"
#include "tests/op_table.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_double_vector(); }

// The repository's root, where the suite reads tapegrad.h, ops/ and docs/ (this file's path as
// compiled is tests/test_ops.cpp: the suites run from the root).
std::filesystem::path repository_root() { return std::filesystem::path(__FILE__).parent_path().parent_path(); }

// The number of the first line where two texts differ (1 for the first).
size_t first_differing_line(const std::string& a, const std::string& b) {
    const size_t at = std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin()).first - a.begin();
    return 1 + size_t(std::count(a.begin(), a.begin() + at, '\n'));
}

void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
    std::vector<double> got = values(t);
    BOOST_REQUIRE_EQUAL(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
        BOOST_CHECK_MESSAGE(std::fabs(got[i] - expected[i]) <= tol,
                            "element " << i << ": expected " << expected[i] << ", got " << got[i]);
}
}  // namespace

// ---- the op table: every case's gradient, and checks that the table leaves no op out ----------

// op_table/<op>_gradient: a float64 finite-difference check of each case of <op>.
const auto* const gradient_cases = register_op_cases("op_table", "gradient", [](const OpCase& c) {
    GradcheckResult result = gradcheck(c.apply, make_inputs(c, DType::Float64), c.gradcheck);
    BOOST_CHECK_MESSAGE(result.ok, result.message);
    BOOST_CHECK_GT(result.checked, 0);
});

// op_table/<op>_zero_extent: every case with an extent 0 (zero_extent_variants) either refuses
// its inputs with a tapegrad::Error or runs forward and backward, each gradient the shape of its
// input. Under SAN=1 this is where a kernel dividing by an empty extent, or reading past an
// empty buffer, is caught.
const auto* const zero_extent_cases = register_op_cases("op_table_zero_extent", "zero_extent", [](const OpCase& c) {
    for (const OpCase& v : zero_extent_variants(c)) {
        BOOST_TEST_CONTEXT(v.variant) {
            Inputs inputs = make_inputs(v, DType::Float64);
            Tensor y;
            try {
                y = v.apply(inputs);
            } catch (const Error&) {
                continue;  // refused with a clear error: also an answer
            }
            backward(sum(y * y));
            for (const Tensor& x : inputs)
                if (x.grad().defined()) BOOST_CHECK(x.grad().shape() == x.shape());
        }
    }
});

// op_table/<op>_undefined_input: each input in turn replaced by an undefined Tensor is refused
// with an error that names an op of the table (the case's own, or the one of its ops that met
// the undefined input first), not the bare "tensor: use of an undefined Tensor". linear's bias
// is the one input that may be undefined (no bias).
const auto* const undefined_input_cases = register_op_cases("op_table_undefined_input", "undefined_input", [](const OpCase& c) {
    std::set<std::string> ops;
    for (const OpCase& other : op_table()) ops.insert(other.op);
    for (size_t i = 0; i < c.inputs.size(); ++i) {
        if (c.op == "linear" && i == 2) continue;
        BOOST_TEST_CONTEXT("input " << i << " undefined") {
            Inputs inputs = make_inputs(c, DType::Float64);
            inputs[i] = Tensor();
            std::string message;
            try {
                c.apply(inputs);
            } catch (const Error& e) {
                message = e.what();
            }
            BOOST_CHECK_MESSAGE(message.find("undefined") != std::string::npos, "got '" << message << "'");
            BOOST_CHECK_MESSAGE(ops.count(message.substr(0, message.find(':'))), "names no op: '" << message << "'");
        }
    }
});

BOOST_AUTO_TEST_SUITE(op_table_coverage)

// Entry i of the elementwise entries is the op of rule i of UnaryRules and BinaryRules
// (core/elementwise_math.h); the static_asserts of tests/op_table.cpp check, when it compiles,
// that there are as many entries as rules.
BOOST_AUTO_TEST_CASE(op_table_covers_every_elementwise_op) {
    const std::vector<std::string>& unary = unary_op_names();
    for (size_t i = 0; i < unary.size(); ++i) BOOST_CHECK_EQUAL(to_string(UnaryOp(i)), unary[i]);
    const std::vector<std::string>& binary = binary_op_names();
    for (size_t i = 0; i < binary.size(); ++i) BOOST_CHECK_EQUAL(to_string(BinaryOp(i)), binary[i]);
}

// Every record the table's cases write onto the tape is named by a case of the table, and a
// case that is not marked composed writes a record of its own op (so the table's names are the
// records' names).
BOOST_AUTO_TEST_CASE(op_table_names_every_record) {
    std::set<std::string> names;
    for (const OpCase& c : op_table()) names.insert(c.op);
    for (const OpCase& c : op_table()) {
        BOOST_TEST_CONTEXT(c.op << ": " << c.variant) {
            Inputs inputs = make_inputs(c, DType::Float64);
            Tape tape;
            TapeGuard guard(tape);
            c.apply(inputs);
            bool own = false;
            for (const Record& r : tape.records()) {
                BOOST_CHECK_MESSAGE(names.count(r.op), "records '" << r.op << "', which no case of tests/op_table.cpp names");
                own = own || r.op == c.op;
            }
            BOOST_CHECK_MESSAGE(own || c.composed, "writes no record named '" << c.op << "' and is not marked composed");
        }
    }
}

// Every function the ops/ headers of tapegrad.h declare has cases under its name, or is listed
// by functions_elsewhere() with the reason; and that list names only functions they declare.
BOOST_AUTO_TEST_CASE(op_table_covers_every_public_op) {
    const std::filesystem::path root = repository_root();
    const std::regex header(R"re(^#include "(ops/\w+\.h)")re");
    const std::regex declaration(R"(^(?:inline\s+)?(?:Tensor|std::vector<Tensor>|double)\s+(\w+)\s*\(|^class\s+(\w+))");
    std::set<std::string> declared;
    std::ifstream umbrella(root / "tapegrad.h");
    std::string include;
    std::smatch match;
    while (std::getline(umbrella, include)) {
        if (!std::regex_search(include, match, header)) continue;
        std::ifstream file(root / match[1].str());
        std::string line;
        while (std::getline(file, line))
            if (std::regex_search(line, match, declaration)) declared.insert(match[1].matched ? match[1] : match[2]);
    }
    BOOST_REQUIRE_MESSAGE(declared.count("sigmoid"), "found no op declarations through " << root / "tapegrad.h");
    std::set<std::string> covered;
    for (const OpCase& c : op_table()) covered.insert(c.op);
    for (const FunctionElsewhere& f : functions_elsewhere()) {
        BOOST_CHECK_MESSAGE(declared.count(f.function), "functions_elsewhere() lists '" << f.function << "', which no ops/ header of tapegrad.h declares");
        covered.insert(f.function);
    }
    for (const std::string& function : declared)
        BOOST_CHECK_MESSAGE(covered.count(function), "the ops/ headers declare '" << function << "', which has no case in tests/op_table.cpp "
                                                     "(add one, or list it with the reason in functions_elsewhere())");
}

// The op catalogue, docs/OPS.md, is what the table gives now (`make docs` rewrites it), and every
// op in it has a comment in ops/*.h and a formula on its records.
BOOST_AUTO_TEST_CASE(op_catalogue_is_current) {
    const std::filesystem::path root = repository_root();
    const OpCatalogue catalogue = op_catalogue(root);
    for (const std::string& line : catalogue.missing) BOOST_ERROR("op catalogue: " << line);
    std::ifstream file(root / "docs" / "OPS.md");
    BOOST_REQUIRE_MESSAGE(file, "cannot read " << root / "docs" / "OPS.md" << ": run `make docs`");
    const std::string committed((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    BOOST_CHECK_MESSAGE(committed == catalogue.markdown,
                        "docs/OPS.md is not what the op table gives (from line " << first_differing_line(committed, catalogue.markdown)
                                                                                 << " on): run `make docs` and commit it");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(elementwise)

BOOST_AUTO_TEST_CASE(relu_values) {
    check_values(relu(Tensor::from_vector(std::vector<double>{-1.5, 0.3, 2.0, -0.2, 0.9, -3.0}, {2, 3})),
                 {0, 0.3, 2.0, 0, 0.9, 0});
}

// abs: |x|, and at the kink the gradient 0 (PyTorch's subgradient), -1 and 1 either side.
BOOST_AUTO_TEST_CASE(abs_values_and_gradient_at_zero) {
    Tensor x = Tensor::from_vector(std::vector<double>{-2, 0, 3}, {3}).set_requires_grad();
    Tensor y = abs(x);
    check_values(y, {2, 0, 3});
    backward(sum(y));
    check_values(x.grad(), {-1, 0, 1});
}

BOOST_AUTO_TEST_CASE(scalar_operators_values) {
    check_values(2.0 - Tensor::from_vector(std::vector<double>{1, 3}, {2}), {1, -1});
    check_values(3.0 / Tensor::from_vector(std::vector<double>{1, 4}, {2}), {3, 0.75});
}

// Broadcast and strided kernels big enough to run on every thread, where each thread starts its
// rows part-way through the outer dims: y = a [3, 1, 300] * b [3, 50, 300] + c[50, 300] with its
// gradients, and a slice along the middle dim, against plain loops over the values.
BOOST_AUTO_TEST_CASE(broadcast_and_strided_kernels_on_all_threads) {
    const int64_t P = 3, Q = 50, R = 300;  // 45,000 elements: above the threads' threshold
    Tensor a = input({P, 1, R}, 90), b = input({P, Q, R}, 91), c = input({Q, R}, 92), w = input({P, Q, R}, 93);
    Tensor y = addcmul(c, a, b);
    backward(sum(y * w.detach()));
    std::vector<double> av = values(a), bv = values(b), cv = values(c), wv = values(w), yv = values(y);
    std::vector<double> ga(P * R, 0.0), gb(P * Q * R), gc(Q * R, 0.0);
    double worst = 0;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 0; j < Q; ++j)
            for (int64_t k = 0; k < R; ++k) {
                const int64_t at = (i * Q + j) * R + k;
                worst = std::max(worst, std::fabs(yv[at] - (cv[j * R + k] + av[i * R + k] * bv[at])));
                ga[i * R + k] += wv[at] * bv[at];
                gb[at] = wv[at] * av[i * R + k];
                gc[j * R + k] += wv[at];
            }
    BOOST_CHECK_SMALL(worst, 1e-12);
    check_values(a.grad(), ga, 1e-10);
    check_values(b.grad(), gb, 1e-12);
    check_values(c.grad(), gc, 1e-12);
    std::vector<double> expected;
    for (int64_t i = 0; i < P; ++i)
        for (int64_t j = 7; j < 43; ++j)
            for (int64_t k = 0; k < R; ++k) expected.push_back(bv[(i * Q + j) * R + k]);
    check_values(slice(b, 1, 7, 43), expected, 0.0);
}

BOOST_AUTO_TEST_CASE(addcmul_values_and_errors) {
    // a + b * c with each of the three broadcast in turn, equal to the two ops it fuses.
    std::vector<std::vector<Shape>> cases = {
        {{2, 3}, {2, 3}, {2, 3}}, {{4, 1, 3}, {2, 3}, {4, 1, 3}}, {{3}, {2, 3}, {2, 1}}, {{2, 1, 4}, {4}, {3, 1}}};
    uint64_t seed = 20;
    for (const auto& shapes : cases) {
        BOOST_TEST_CONTEXT("a " << to_string(shapes[0]) << ", b " << to_string(shapes[1]) << ", c " << to_string(shapes[2])) {
            Tensor a = input(shapes[0], seed++), b = input(shapes[1], seed++), c = input(shapes[2], seed++);
            check_values(addcmul(a, b, c), values(a + b * c), 1e-15);
        }
    }
    Tensor x = input({2, 3}, 30);
    TAPEGRAD_CHECK_ERROR(addcmul(x, input({4}, 31), x), "addcmul", "[4]");
}

BOOST_AUTO_TEST_CASE(binary_broadcast_values) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector(std::vector<double>{10, 20, 30}, {3});
    Tensor c = Tensor::from_vector(std::vector<double>{100, 200}, {2, 1});
    check_values(a + b, {11, 22, 33, 14, 25, 36});
    check_values(a * c, {100, 200, 300, 800, 1000, 1200});
    check_values(b - c, {-90, -80, -70, -190, -180, -170});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reductions)

BOOST_AUTO_TEST_CASE(large_sums_match_a_plain_loop) {
    // Big enough for the CPU kernel's threaded row sum (sum over axis 0) and its folded row sums
    // (over the last axis), in float64 and float32.
    for (DType dtype : {DType::Float64, DType::Float32}) {
        Tensor x = to(input({300, 130}, 80), dtype).detach();
        std::vector<double> v = values(x), columns(130, 0.0), rows(300, 0.0);
        for (int64_t i = 0; i < 300; ++i)
            for (int64_t j = 0; j < 130; ++j) {
                columns[j] += v[i * 130 + j];
                rows[i] += v[i * 130 + j];
            }
        const double tol = dtype == DType::Float64 ? 1e-12 : 1e-4;
        check_values(sum(x, 0), columns, tol);
        check_values(sum(x, 1), rows, tol);
    }
}

BOOST_AUTO_TEST_CASE(reduction_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 3, 4, 2, 6}, {2, 3});
    check_values(sum(x), {21});
    check_values(sum(x, 0), {5, 7, 9});
    check_values(mean(x, 1), {3, 4});
    check_values(max(x, 1), {5, 6});
    check_values(max(x, 0, true), {4, 5, 6});
    BOOST_CHECK(sum(x, 1, true).shape() == (Shape{2, 1}));
    std::vector<int64_t> arg = argmax(x, 1).to_vector<int64_t>();
    BOOST_CHECK_EQUAL(arg[0], 1);
    BOOST_CHECK_EQUAL(arg[1], 2);
    std::vector<int64_t> arg0 = argmax(x, 0).to_vector<int64_t>();
    BOOST_CHECK(arg0 == (std::vector<int64_t>{1, 0, 1}));
}

// norm as torch.linalg.vector_norm: p = 2, 1, inf, over all and along an axis; the norm of
// nothing is 0, and the gradient at a zero norm is 0 (not the NaN of 0/0).
BOOST_AUTO_TEST_CASE(norm_values) {
    const double inf = std::numeric_limits<double>::infinity();
    Tensor x = Tensor::from_vector(std::vector<double>{3, -4, 0, 0, 12, -5}, {2, 3});
    check_values(norm(x), {std::sqrt(9.0 + 16 + 144 + 25)});
    check_values(norm(x, 2, 1), {5, 13});
    check_values(norm(x, 1, 0), {3, 16, 5});
    check_values(norm(x, inf), {12});
    check_values(norm(x, inf, 1, true), {4, 12});
    BOOST_CHECK(norm(x, inf, 1, true).shape() == (Shape{2, 1}));
    BOOST_CHECK(norm(x).shape() == Shape{});
    check_values(norm(Tensor::zeros({0}, DType::Float64)), {0});
    Tensor zero = Tensor::zeros({2, 2}, DType::Float64).set_requires_grad();
    backward(sum(norm(zero, 2, 1)));
    check_values(zero.grad(), {0, 0, 0, 0});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(linear_algebra)

// min, var and std as PyTorch's: var unbiased by default (/ (n − 1)), NaN for one element.
BOOST_AUTO_TEST_CASE(min_var_std_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 8, -1}, {2, 3});
    BOOST_CHECK_EQUAL(min(x).item(), -1.0);
    check_values(min(x, 1), {1, -1});
    check_values(var(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4}), 1), {5.0 / 3.0});
    check_values(var(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4}), 1, false), {1.25});
    check_values(stddev(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4}), 1, false), {std::sqrt(1.25)});
    BOOST_CHECK(std::isnan(var(Tensor::ones({1, 1}, DType::Float64), 1).item()));
    TAPEGRAD_CHECK_ERROR(min(Tensor::zeros({2, 0}), 1), "min", "empty", "[2, 0]");
    TAPEGRAD_CHECK_ERROR(var(Tensor::zeros({2, 3}), 2), "var", "axis 2");
}

// Comparisons, where, masked_fill, clamp and one_hot as PyTorch's (comparisons give 0/1 in the
// operands' dtype: tapegrad has no bool dtype).
BOOST_AUTO_TEST_CASE(comparison_where_clamp_one_hot_values) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}), b = Tensor::from_vector(std::vector<double>{2, 2, 2}, {3});
    check_values(gt(a, b), {0, 0, 1});
    check_values(lt(a, b), {1, 0, 0});
    check_values(eq(a, b), {0, 1, 0});
    check_values(where(gt(a, b), a, b), {2, 2, 3});
    check_values(masked_fill(a, eq(a, b), -1.0), {1, -1, 3});
    Tensor x = Tensor::from_vector(std::vector<double>{-2, -0.5, 0, 0.5, 2}, {5}).set_requires_grad();
    Tensor y = clamp(x, -0.5, 0.5);
    check_values(y, {-0.5, -0.5, 0, 0.5, 0.5});
    backward(sum(y));
    check_values(x.grad(), {0, 1, 1, 1, 0});  // 1 inside, bounds included
    TAPEGRAD_CHECK_ERROR(clamp(x, 1.0, -1.0), "clamp", "low = 1", "high = -1");

    Tensor hot = one_hot(Tensor::from_vector(std::vector<int64_t>{2, 0}, {2}), 3, DType::Float64);
    BOOST_CHECK(hot.shape() == (Shape{2, 3}));
    check_values(hot, {0, 0, 1, 1, 0, 0});
    TAPEGRAD_CHECK_ERROR(one_hot(Tensor::from_vector(std::vector<int64_t>{3}, {1}), 3), "one_hot", "index 3", "< 3");
    TAPEGRAD_CHECK_ERROR(one_hot(Tensor::from_vector(std::vector<int64_t>{0}, {1}), 0), "one_hot", "classes = 0");
}

BOOST_AUTO_TEST_CASE(matmul_values) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector(std::vector<double>{7, 8, 9, 10, 11, 12}, {3, 2});
    check_values(matmul(a, b), {58, 64, 139, 154});
}

// A three-step recurrence h_{t+1} = tanh(A_t + b + h_t U^T) through RecurrentLinear: v = {h0, U}
// then the per-step terms A [3, 2, 4] and the bias b [4] when `per_step` and `bias` say they are
// there; the output stacks every h so that each step's gradient counts.
Tensor recurrence(const Inputs& v, bool per_step, bool bias) {
    RecurrentLinear product(v[1], per_step ? v[2] : Tensor(), bias ? v.back() : Tensor(), 3);
    Tensor h = v[0];
    std::vector<Tensor> hs;
    for (int64_t t = 0; t < 3; ++t) {
        h = tanh(product.step(h));
        hs.push_back(h);
    }
    return stack(hs, 0);
}

BOOST_AUTO_TEST_CASE(recurrent_linear_gradient) {
    Tensor h0 = input({2, 4}, 43), u = input({4, 4}, 44), a = input({3, 2, 4}, 45), bias = input({4}, 46);
    TAPEGRAD_CHECK_GRADIENT([](const Inputs& v) { return recurrence(v, true, false); }, (Inputs{h0, u, a}));
    TAPEGRAD_CHECK_GRADIENT([](const Inputs& v) { return recurrence(v, false, true); }, (Inputs{h0, u, bias}));
    TAPEGRAD_CHECK_GRADIENT([](const Inputs& v) { return recurrence(v, true, true); }, (Inputs{h0, u, a, bias}));
    TAPEGRAD_CHECK_GRADIENT([](const Inputs& v) { return recurrence(v, false, false); }, (Inputs{h0, u}));
    // A also used elsewhere (its gradient is added to, not handed over); non-square U [G, K] =
    // [6, 4]; step 0 is off the path to the loss (its saved gradient rows must count as zero); the
    // loop stops before its capacity of 4 steps.
    Tensor w = input({6, 4}, 47), a6 = input({4, 2, 6}, 48), b6 = input({6}, 49);
    TAPEGRAD_CHECK_GRADIENT(
        [](const Inputs& v) {
            RecurrentLinear product(v[1], v[2], v[3], 4);
            product.step(v[0] * 3.0);
            Tensor z1 = product.step(v[0]);
            Tensor z2 = product.step(sigmoid(slice(z1, 1, 1, 5)));
            return z2 * 2.0 + sum(v[2]) + sum(v[3] * v[3]);
        },
        (Inputs{h0, w, a6, b6}));
}

// The CPU backend's product with a prepared matrix (pack_matrix, gemm_packed: cpu/cpu_gemm.h)
// against a plain triple loop: small blocks (libxsmm) and, in float64 with K = 400, large ones
// (OpenBLAS) cut into several blocks of rows or columns (the threads' shares), widths that are and
// are not whole vector registers; B given as [K, N] or transposed, with an addend, with beta = 0
// and with beta = 1 (the first and the last with a bias), written as [M, N] or gate-major
// [groups, M, N / groups].
template <typename T>
void check_prepared_gemm() {
    Backend& cpu = backend_for(Device::cpu());
    for (int64_t m : {1, 5, 13, 97})
        for (int64_t n : {1, 15, 16, 19, 33, 96, 300})
            for (int64_t k : sizeof(T) == 8 ? std::vector<int64_t>{1, 3, 17, 400} : std::vector<int64_t>{1, 3, 17})
                for (bool transpose : {false, true})
                    for (int64_t groups : {1, 3})
                    for (int mode = 0; mode < 3; ++mode) {  // 0: addend, 1: beta 0, 2: beta 1
                        if (n % groups != 0) continue;
                        const int64_t width = n / groups;
                        auto make = [](const Shape& shape, uint64_t seed) { return to(input(shape, seed), dtype_of<T>()).detach(); };
                        Tensor a = make({m, k}, 60), b = make(transpose ? Shape{n, k} : Shape{k, n}, 61);
                        Tensor addend = make({m, n}, 62), c = make({m, n}, 63), bias = make({n}, 64);
                        const bool with_bias = mode != 1;  // modes 0 and 2 add a bias too
                        std::vector<double> biases = values(bias);
                        std::vector<double> av = values(a), bv = values(b), dv = values(addend), cv = values(c);
                        PackedMatrix packed = cpu.pack_matrix(b, transpose, groups);
                        cpu.gemm_packed(a, packed, mode == 0 ? addend.raw_data() : nullptr, with_bias ? bias : Tensor(),
                                        mode == 2 ? 1.0 : 0.0, c);
                        std::vector<double> got = values(c);
                        double worst = 0;
                        for (int64_t i = 0; i < m; ++i)
                            for (int64_t j = 0; j < n; ++j) {
                                const int64_t at = (j / width * m + i) * width + j % width;  // gate-major
                                double want = (mode == 0 ? dv[i * n + j] : mode == 2 ? cv[at] : 0.0) +
                                              (with_bias ? biases[j] : 0.0);
                                for (int64_t kk = 0; kk < k; ++kk)
                                    want += av[i * k + kk] * (transpose ? bv[j * k + kk] : bv[kk * n + j]);
                                worst = std::max(worst, std::fabs(got[at] - want));
                            }
                        BOOST_CHECK_MESSAGE(worst <= (sizeof(T) == 4 ? 1e-5 : 1e-13),
                                            "m " << m << " n " << n << " k " << k << " transpose " << transpose
                                                 << " groups " << groups << " mode " << mode << ": error " << worst);
                    }
}

// The CPU backend's plain product, C = op(A) op(B) (+ C with beta = 1), for every pair of
// transposes, against a triple loop: shapes whose blocks run on libxsmm (small, B untransposed),
// on OpenBLAS (B transposed, or large), and large ones cut into blocks of rows or of columns.
template <typename T>
void check_backend_gemm() {
    Backend& cpu = backend_for(Device::cpu());
    struct Case {
        int64_t m, n, k;
    };
    for (Case s : {Case{1, 1, 1}, Case{3, 5, 7}, Case{32, 96, 40}, Case{17, 9, 300}, Case{700, 40, 33}, Case{40, 700, 33}})
        for (bool ta : {false, true})
            for (bool tb : {false, true})
                for (double beta : {0.0, 1.0}) {
                    auto make = [](const Shape& shape, uint64_t seed) { return to(input(shape, seed), dtype_of<T>()).detach(); };
                    Tensor a = make(ta ? Shape{s.k, s.m} : Shape{s.m, s.k}, 80), b = make(tb ? Shape{s.n, s.k} : Shape{s.k, s.n}, 81);
                    Tensor c = make({s.m, s.n}, 82);
                    const std::vector<double> av = values(a), bv = values(b), before = values(c);
                    GemmArgs g;
                    g.transpose_a = ta, g.transpose_b = tb;
                    g.m = s.m, g.n = s.n, g.k = s.k, g.beta = beta;
                    g.a = a.raw_data(), g.b = b.raw_data(), g.c = c.raw_data();
                    g.lda = ta ? s.m : s.k, g.ldb = tb ? s.k : s.n, g.ldc = s.n;
                    g.dtype = dtype_of<T>();
                    cpu.gemm(g);
                    const std::vector<double> got = values(c);
                    double worst = 0;
                    for (int64_t i = 0; i < s.m; ++i)
                        for (int64_t j = 0; j < s.n; ++j) {
                            double want = beta * before[i * s.n + j];
                            for (int64_t kk = 0; kk < s.k; ++kk)
                                want += av[ta ? kk * s.m + i : i * s.k + kk] * bv[tb ? j * s.k + kk : kk * s.n + j];
                            worst = std::max(worst, std::fabs(got[i * s.n + j] - want));
                        }
                    BOOST_CHECK_MESSAGE(worst <= (sizeof(T) == 4 ? 1e-4 : 1e-12),
                                        "m " << s.m << " n " << s.n << " k " << s.k << " ta " << ta << " tb " << tb
                                             << " beta " << beta << ": error " << worst);
                }
}

BOOST_AUTO_TEST_CASE(backend_gemm_matches_plain_product) {
    check_backend_gemm<float>();
    check_backend_gemm<double>();
}

BOOST_AUTO_TEST_CASE(prepared_gemm_matches_plain_product) {
    check_prepared_gemm<float>();
    check_prepared_gemm<double>();
}

BOOST_AUTO_TEST_CASE(recurrent_linear_gate_major) {
    // gates = 3 on U [6, 4]: z_t comes out [3, N, 2], gate k equal to columns 2k..2k+1 of the
    // plain product, and gradients check through per-step terms and a bias.
    Tensor h = input({5, 4}, 70), u = input({6, 4}, 71), b = input({6}, 72), a = input({2, 5, 6}, 73);
    Tensor plain = RecurrentLinear(u, Tensor(), b, 1).step(h);
    Tensor gate_major = RecurrentLinear(u, Tensor(), b, 1, 3).step(h);
    BOOST_CHECK(gate_major.shape() == (Shape{3, 5, 2}));
    for (int64_t k = 0; k < 3; ++k) check_values(select(gate_major, 0, k), values(slice(plain, 1, 2 * k, 2 * k + 2)));
    for (const Tensor& added : {a, b})
        TAPEGRAD_CHECK_GRADIENT(
            [](const Inputs& v) {
                RecurrentLinear product(v[1], v[2].dim() == 3 ? v[2] : Tensor(), v[2].dim() == 1 ? v[2] : Tensor(), 2, 3);
                Tensor z0 = product.step(v[0]);
                Tensor h1 = tanh(select(z0, 0, 0)) * sigmoid(select(z0, 0, 2));  // [5, 2]
                Tensor z1 = product.step(concat({h1, h1 * 2.0}, 1));
                return z1 * z1;
            },
            (Inputs{h, u, added}));
    TAPEGRAD_CHECK_ERROR(RecurrentLinear(u, Tensor(), b, 1, 4), "recurrent_linear", "into 4 gates");
}

BOOST_AUTO_TEST_CASE(recurrent_linear_values_and_errors) {
    // The same values as linear(h, U, b).
    Tensor h = input({3, 2}, 50), u = input({5, 2}, 51), b = input({5}, 52);
    RecurrentLinear product(u, Tensor(), b, 1);
    check_values(product.step(h), values(linear(h, u, b)));
    TAPEGRAD_CHECK_ERROR(product.step(h), "recurrent_linear", "past the 1 steps");
    RecurrentLinear two(u, Tensor(), Tensor(), 2);
    two.step(h);
    TAPEGRAD_CHECK_ERROR(two.step(input({4, 2}, 53)), "recurrent_linear", "have 3 rows");
    TAPEGRAD_CHECK_ERROR(RecurrentLinear(u, Tensor(), Tensor(), 2).step(input({3, 3}, 54)), "recurrent_linear",
                         "expected h [N, 2]");
    TAPEGRAD_CHECK_ERROR(RecurrentLinear(u, input({3, 3, 5}, 55), Tensor(), 2), "recurrent_linear",
                         "[2, N, 5] for 2 steps");
    TAPEGRAD_CHECK_ERROR(RecurrentLinear(u, Tensor(), input({4}, 59), 2), "recurrent_linear", "expected [5]");
    TAPEGRAD_CHECK_ERROR(RecurrentLinear(u, input({2, 4, 5}, 56), Tensor(), 2).step(h), "recurrent_linear",
                         "have 4 rows");
    // Two backward passes over one kept tape give the same gradients twice.
    Tape tape;
    TapeGuard guard(tape);
    Tensor square = input({2, 2}, 57), a = input({2, 3, 2}, 58);
    RecurrentLinear kept(square, a, Tensor(), 2);
    Tensor loss = sum(kept.step(tanh(kept.step(h))));
    backward(loss, {Tensor(), /*keep_tape=*/true});
    std::vector<double> once = values(square.grad()), once_a = values(a.grad());
    backward(loss);
    std::vector<double> twice = values(square.grad()), twice_a = values(a.grad());
    for (size_t i = 0; i < once.size(); ++i) BOOST_CHECK_CLOSE(twice[i], 2 * once[i], 1e-9);
    for (size_t i = 0; i < once_a.size(); ++i) BOOST_CHECK_CLOSE(twice_a[i], 2 * once_a[i], 1e-9);
}

BOOST_AUTO_TEST_CASE(linear_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 2}, {1, 2});
    Tensor w = Tensor::from_vector(std::vector<double>{1, 0, 2, 3, -1, 1}, {3, 2});
    Tensor b = Tensor::from_vector(std::vector<double>{0.5, 0, -1}, {3});
    check_values(linear(x, w, b), {1.5, 8, 0});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shape)

BOOST_AUTO_TEST_CASE(reshape_unsqueeze_shapes) {
    Tensor x = input({2, 6}, 50);
    BOOST_CHECK(reshape(x, {4, -1, 1}).shape() == (Shape{4, 3, 1}));
    BOOST_CHECK(unsqueeze(x, -1).shape() == (Shape{2, 6, 1}));
}

BOOST_AUTO_TEST_CASE(permute_values) {
    Tensor x = input({2, 3, 4}, 51);
    Tensor y = permute(x, {1, 2, 0});
    BOOST_CHECK(y.shape() == (Shape{3, 4, 2}));
    std::vector<double> xv = values(x), yv = values(y);
    // y[j, k, i] = x[i, j, k]
    BOOST_CHECK_EQUAL(yv[(2 * 4 + 3) * 2 + 1], xv[(1 * 3 + 2) * 4 + 3]);
}

BOOST_AUTO_TEST_CASE(slice_of_leading_dim_is_a_view) {
    Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {3, 2});
    Tensor rows = slice(x, 0, 1, 3);
    BOOST_CHECK_EQUAL(rows.raw_data(), static_cast<void*>(x.data<double>() + 2));
    check_values(rows, {2, 3, 4, 5});
    check_values(slice(reshape(x, {1, 3, 2}), 1, 2, 3), {4, 5});    // dims before the axis have extent 1
    BOOST_CHECK(slice(x, 1, 0, 1).raw_data() != x.raw_data());       // a column: a copy
}

BOOST_AUTO_TEST_CASE(select_values_view_and_errors) {
    Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {3, 2});
    Tensor row = select(x, 0, 2);
    BOOST_CHECK(row.shape() == (Shape{2}));
    BOOST_CHECK_EQUAL(row.raw_data(), static_cast<void*>(x.data<double>() + 4));  // a view
    check_values(select(x, 1, 1), {1, 3, 5});                                       // a column: a copy
    TAPEGRAD_CHECK_ERROR(select(x, 0, 3), "select", "index 3 is out of bounds");
    check_values(select(x, 0, -1), {4, 5});  // from the end, as PyTorch's x[-1]
    check_values(select(x, 1, -2), {0, 2, 4});
    TAPEGRAD_CHECK_ERROR(select(x, 0, -4), "select", "index -4", "-3 <= index < 3");
}

BOOST_AUTO_TEST_CASE(slice_concat_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
    check_values(slice(x, 1, 1, 3), {1, 2, 4, 5});
    check_values(concat({x, slice(x, 1, 0, 1)}, 1), {0, 1, 2, 0, 3, 4, 5, 3});
    check_values(stack({slice(x, 0, 0, 1), slice(x, 0, 1, 2)}, 0), {0, 1, 2, 3, 4, 5});
    BOOST_CHECK(stack({x, x}, 2).shape() == (Shape{2, 3, 2}));
}

// Big enough that the scatter-add of backward runs on every thread (each takes a share of the
// columns): repeated rows must still get the sum of all their terms, checked against a plain sum.
BOOST_AUTO_TEST_CASE(index_select_backward_sums_repeats_on_all_threads) {
    const int64_t rows = 7, cols = 300, picks = 200;
    Tensor table = input({rows, cols}, 63);
    std::vector<int64_t> ids(picks);
    for (int64_t j = 0; j < picks; ++j) ids[j] = (j * j + 3) % rows;
    Tensor weights = input({picks, cols}, 64);
    backward(sum(index_select(table, 0, Tensor::from_vector(ids, {picks})) * weights.detach()));
    std::vector<double> w = values(weights), expected(rows * cols, 0.0);
    for (int64_t j = 0; j < picks; ++j)
        for (int64_t c = 0; c < cols; ++c) expected[ids[j] * cols + c] += w[j * cols + c];
    check_values(table.grad(), expected, 1e-12);
}

BOOST_AUTO_TEST_CASE(index_select_gather_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {3, 2});
    check_values(index_select(x, 0, Tensor::from_vector(std::vector<int64_t>{2, 0, 2}, {3})), {4, 5, 0, 1, 4, 5});
    check_values(gather(x, 1, Tensor::from_vector(std::vector<int64_t>{1, 0, 1}, {3})), {1, 2, 5});
}

BOOST_AUTO_TEST_CASE(dtype_conversion_gradient) {
    Tensor x = input({2, 3}, 62);
    // float64 -> float32 -> float64 loses precision, so check only the exact direction's chain shape
    TAPEGRAD_CHECK_GRADIENT([](const Inputs& v) { return to(v[0], DType::Float64) * 2.0; }, Inputs{x});
    Tensor f = to(x, DType::Float32);
    BOOST_CHECK(f.dtype() == DType::Float32);
    backward(sum(f * f));
    std::vector<double> g = x.grad().to_double_vector(), xv = values(x);
    for (size_t i = 0; i < g.size(); ++i) BOOST_CHECK_CLOSE(g[i], 2 * xv[i], 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(nn)

BOOST_AUTO_TEST_CASE(softmax_values) {
    Tensor x = Tensor::from_vector(std::vector<double>{0, std::log(2.0), std::log(5.0), 1000, 1000, 1000}, {2, 3});
    check_values(softmax(x), {0.125, 0.25, 0.625, 1.0 / 3, 1.0 / 3, 1.0 / 3});
    check_values(log_softmax(x), {std::log(0.125), std::log(0.25), std::log(0.625), -std::log(3.0),
                                  -std::log(3.0), -std::log(3.0)});
}

BOOST_AUTO_TEST_CASE(cross_entropy_value) {
    // Two rows: uniform logits over 4 classes gives log 4; logits (ln 1, ln 3) with target 1 gives -ln(3/4).
    Tensor known = Tensor::from_vector(std::vector<double>{0, 0, 0, 0, 0, std::log(3.0), -1e9, -1e9}, {2, 4});
    Tensor known_targets = Tensor::from_vector(std::vector<int64_t>{3, 1}, {2});
    check_values(cross_entropy(known, known_targets), {(std::log(4.0) - std::log(0.75)) / 2});
}

BOOST_AUTO_TEST_CASE(bce_with_logits_values) {
    // Extreme logits stay finite: the stable form never exponentiates a large positive number.
    Tensor big = Tensor::from_vector(std::vector<double>{800, -800}, {2});
    Tensor t = Tensor::from_vector(std::vector<double>{1, 0}, {2});
    check_values(bce_with_logits(big, t), {0});
    Tensor z = Tensor::from_vector(std::vector<double>{0.0}, {1});
    check_values(bce_with_logits(z, Tensor::from_vector(std::vector<double>{1.0}, {1})), {std::log(2.0)});
}

BOOST_AUTO_TEST_CASE(dropout_mask) {
    Tensor ones = Tensor::ones({100000});
    Generator g1(5), g2(5);
    std::vector<float> m1 = dropout(ones, 0.25, g1).to_vector<float>();
    std::vector<float> m2 = dropout(ones, 0.25, g2).to_vector<float>();
    BOOST_CHECK(m1 == m2);
    double kept = 0;
    for (float v : m1) {
        BOOST_REQUIRE(v == 0.0f || std::fabs(v - 1.0f / 0.75f) < 1e-6);
        kept += v != 0.0f;
    }
    BOOST_CHECK_CLOSE(kept / m1.size(), 0.75, 1.0);  // within 1% of 1 - p
    Generator g3(5);
    BOOST_CHECK(dropout(ones, 0.25, g3, /*training=*/false).same(ones));
}

BOOST_AUTO_TEST_CASE(float32_matches_float64) {
    Tensor x = input({3, 4}, 77), w = input({5, 4}, 78);
    Tensor y64 = softmax(tanh(linear(x, w, Tensor())), -1);
    Tensor y32 = softmax(tanh(linear(to(x, DType::Float32), to(w, DType::Float32), Tensor())), -1);
    std::vector<double> a = values(y64), b = values(y32);
    for (size_t i = 0; i < a.size(); ++i) BOOST_CHECK_SMALL(a[i] - b[i], 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(accuracy_counts_argmax_hits) {
    Tensor logits = Tensor::from_vector(std::vector<float>{0.1f, 0.9f, 2.0f, -1.0f, 0.3f, 0.2f}, {3, 2});
    BOOST_CHECK_CLOSE(accuracy(logits, Tensor::from_vector(std::vector<int64_t>{1, 0, 1}, {3})), 200.0 / 3.0 / 100.0, 1e-12);
    BOOST_CHECK_EQUAL(accuracy(logits, Tensor::from_vector(std::vector<int64_t>{1, 0, 0}, {3})), 1.0);
    TAPEGRAD_CHECK_ERROR(accuracy(logits, Tensor::from_vector(std::vector<int64_t>{1, 0}, {2})), "accuracy", "[3, 2]");
}
