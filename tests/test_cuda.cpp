// Every op of the op table (tests/op_table.cpp) on CUDA against the CPU reference, forward and
// backward, and its gradcheck on the GPU; a few Adam steps of small models on both devices.
// Without a GPU every case here is reported as skipped, with the reason (`make test-gpu` runs
// this suite alone).
#define BOOST_TEST_MODULE cuda
#include <cmath>
#include <memory>

#include "cuda/cuda.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"
#include "tests/op_table.h"
#include "tests/gpu_available.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {
const Device gpu = Device::cuda(0);

// A copy of t on `device` that is a leaf requiring grad.
Tensor leaf_on(const Tensor& t, Device device) {
    NoGrad no_grad;
    return to(t, device).detach().set_requires_grad();
}

// Equal to within tol relative, or NaN on both devices (the mean of an empty tensor is NaN).
void check_close(const Tensor& cpu, const Tensor& cuda, double tol, const std::string& what) {
    BOOST_REQUIRE_EQUAL(cpu.defined(), cuda.defined());
    if (!cpu.defined()) return;  // no gradient on either device
    BOOST_REQUIRE(cpu.shape() == cuda.shape());
    std::vector<double> a = cpu.to_double_vector(), b = to(cuda.detach(), Device::cpu()).to_double_vector();
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        if (!(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(a[i]))) && !(std::isnan(a[i]) && std::isnan(b[i]))) {
            BOOST_ERROR(what << " element " << i << ": cpu " << a[i] << ", cuda " << b[i] << " (tolerance " << tol << ")");
            return;
        }
}

// Runs the case on the CPU and on the GPU with the same inputs and the same random upstream
// gradient; compares outputs and every input's gradient.
void compare_devices(const OpCase& c, DType dtype, double tol) {
    BOOST_TEST_CONTEXT(to_string(dtype)) {
        Inputs cpu_in = make_inputs(c, dtype, Device::cpu()), gpu_in = make_inputs(c, dtype, gpu);
        Tensor y_cpu = c.apply(cpu_in);  // backward clears the tape: one device at a time
        Generator gen(123);
        Tensor seed = Tensor::randn(y_cpu.shape(), gen, dtype);
        backward(y_cpu, {seed});
        Tensor y_gpu = c.apply(gpu_in);
        backward(y_gpu, {to(seed, gpu)});
        check_close(y_cpu, y_gpu, tol, "output");
        for (size_t i = 0; i < cpu_in.size(); ++i) check_close(cpu_in[i].grad(), gpu_in[i].grad(), tol, "gradient of input " + std::to_string(i));
    }
}

// op_table/<op>_matches_cpu: float64 to rounding; float32 with room for float32 rounding, since
// reductions and GEMMs sum in a different order on the GPU.
const auto* const parity_cases = register_op_cases(
    "op_table", "matches_cpu",
    [](const OpCase& c) {
        compare_devices(c, DType::Float64, 1e-10);
        compare_devices(c, DType::Float32, 2e-5);
    },
    GpuAvailable());

// op_table_zero_extent_on_gpu/<op>_zero_extent_matches_cpu: each case with an extent 0
// (zero_extent_variants) is refused on the GPU exactly when it is on the CPU, and otherwise gives
// the CPU's outputs and gradients (launches over no elements, GEMMs with a zero dimension). An
// index out of range (a gather from an axis of extent 0) is refused on the GPU at the next
// synchronisation, not at the op (cuda/index_errors.h).
const auto* const zero_extent_cases = register_op_cases(
    "op_table_zero_extent_on_gpu", "zero_extent_matches_cpu",
    [](const OpCase& c) {
        for (const OpCase& v : zero_extent_variants(c)) {
            BOOST_TEST_CONTEXT(v.variant) {
                bool refused = false;
                try {
                    v.apply(make_inputs(v, DType::Float64, Device::cpu()));
                } catch (const Error&) {
                    refused = true;
                }
                active_tape().clear();
                if (refused) BOOST_CHECK_THROW((v.apply(make_inputs(v, DType::Float64, gpu)), cuda::synchronize()), Error);
                else compare_devices(v, DType::Float64, 1e-10);
                active_tape().clear();
            }
        }
    },
    GpuAvailable());

// op_table_on_gpu/<op>_gradient: the float64 finite-difference check, on the GPU.
const auto* const gpu_gradient_cases = register_op_cases(
    "op_table_on_gpu", "gradient",
    [](const OpCase& c) {
        GradcheckResult result = gradcheck(c.apply, make_inputs(c, DType::Float64, gpu), c.gradcheck);
        BOOST_CHECK_MESSAGE(result.ok, result.message);
        BOOST_CHECK_GT(result.checked, 0);
    },
    GpuAvailable());
}  // namespace

// to(x, Device), the one op the table cannot run on a single device: there and back.
BOOST_AUTO_TEST_CASE(to_device_gradient, *boost::unit_test::precondition(GpuAvailable())) {
    for (Device start : {Device::cpu(), gpu}) {
        BOOST_TEST_CONTEXT("from " << to_string(start)) {
            const Device other = start.is_cpu() ? gpu : Device::cpu();
            Tensor x = input({3, 4}, 1, -1.0, 1.0, start);
            TAPEGRAD_CHECK_GRADIENT([other](const Inputs& v) { return to(to(v[0], other) * 3.0, v[0].device()); }, Inputs{x});
        }
    }
}

BOOST_AUTO_TEST_CASE(dropout_mask_is_the_same_on_both_devices, *boost::unit_test::precondition(GpuAvailable())) {
    Generator a(77), b(77);
    Tensor cpu_mask = dropout(Tensor::ones({10000}), 0.5, a);
    Tensor gpu_mask = dropout(Tensor::ones({10000}, DType::Float32, gpu), 0.5, b);
    BOOST_CHECK(cpu_mask.to_vector<float>() == to(gpu_mask, Device::cpu()).to_vector<float>());
}

namespace {
// A few Adam steps of `loss(params)` with the backend's fused update, on `device`.
std::vector<Tensor> train(const std::vector<Tensor>& init, Device device, const std::function<Tensor(const Inputs&)>& loss) {
    std::vector<Tensor> params, m, v;
    for (const Tensor& p : init) {
        // A fresh copy: adam_step updates in place, and to() onto p's own device shares p's storage.
        params.push_back(leaf_on(Tensor::from_values(p.to_double_vector(), p.shape(), p.dtype()), device));
        m.push_back(Tensor::zeros(p.shape(), p.dtype(), device));
        v.push_back(Tensor::zeros(p.shape(), p.dtype(), device));
    }
    AdamHyper h;
    h.lr = 0.01;
    for (int step = 1; step <= 5; ++step) {
        backward(loss(params));
        h.bias_correction1 = 1 - std::pow(h.beta1, step);
        h.bias_correction2 = 1 - std::pow(h.beta2, step);
        NoGrad no_grad;
        for (size_t i = 0; i < params.size(); ++i) {
            backend_for(device).adam_step(params[i], params[i].grad(), m[i], v[i], h);
            params[i].zero_grad();
        }
    }
    return params;
}
}  // namespace

BOOST_AUTO_TEST_CASE(mlp_and_lstm_like_train_steps_match, *boost::unit_test::precondition(GpuAvailable())) {
    Generator gen(3);
    Tensor x = Tensor::randn({8, 6}, gen, DType::Float64);
    Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0, 2, 2, 1}, {8});
    std::vector<Tensor> mlp_init = {Tensor::randn({16, 6}, gen, DType::Float64) * 0.3, Tensor::zeros({16}, DType::Float64),
                                    Tensor::randn({3, 16}, gen, DType::Float64) * 0.3, Tensor::zeros({3}, DType::Float64)};
    auto mlp_loss = [&](const Inputs& p) {
        Tensor xs = to(x, p[0].device()), ys = to(labels, p[0].device());
        return cross_entropy(linear(tanh(linear(xs, p[0], p[1])), p[2], p[3]), ys);
    };
    auto cpu_params = train(mlp_init, Device::cpu(), mlp_loss), gpu_params = train(mlp_init, gpu, mlp_loss);
    for (size_t i = 0; i < cpu_params.size(); ++i) check_close(cpu_params[i], gpu_params[i], 1e-10, "mlp parameter");

    // An LSTM-like recurrence over 4 steps: gates from one GEMM of [x_t; h], sliced four ways.
    std::vector<Tensor> lstm_init = {Tensor::randn({16, 6 + 4}, gen, DType::Float64) * 0.3, Tensor::zeros({16}, DType::Float64)};
    auto lstm_loss = [&](const Inputs& p) {
        Tensor xs = to(reshape(x, {2, 4, 6}), p[0].device());
        Tensor h = Tensor::zeros({2, 4}, DType::Float64, p[0].device()), c = h;
        for (int t = 0; t < 4; ++t) {
            Tensor z = linear(concat({squeeze(slice(xs, 1, t, t + 1), 1), h}, 1), p[0], p[1]);
            RecurrentState next = lstm_state(lstm_gates(chunk(z, 4, 1)), c);  // models/lstm.h
            c = next.c;
            h = next.h;
        }
        return mean(h * h);
    };
    cpu_params = train(lstm_init, Device::cpu(), lstm_loss);
    gpu_params = train(lstm_init, gpu, lstm_loss);
    for (size_t i = 0; i < cpu_params.size(); ++i) check_close(cpu_params[i], gpu_params[i], 1e-10, "lstm parameter");
}

// PyTorch's order on the GPU: Adam made before model.to(gpu) trains the moved model, as the same
// steps on the CPU do (the state follows its parameters to the device).
BOOST_AUTO_TEST_CASE(optimizer_made_before_module_to_trains_on_the_gpu, *boost::unit_test::precondition(GpuAvailable())) {
    auto losses_on = [](Device device) {
        Generator gen(3);
        Linear layer(3, 2, gen);
        layer.to(DType::Float64);
        Adam adam(layer.parameters(), AdamOptions{0.1});
        layer.to(device);
        const Tensor x = to(Tensor::uniform({8, 3}, -1, 1, gen, DType::Float64), device);
        std::vector<double> losses;
        for (int step = 0; step < 5; ++step) {
            adam.zero_grad();
            Tensor loss = mean(layer.forward(x) * layer.forward(x));
            losses.push_back(loss.item());
            backward(loss);
            adam.step();
        }
        return losses;
    };
    const std::vector<double> cpu = losses_on(Device::cpu()), cuda = losses_on(gpu);
    BOOST_REQUIRE_EQUAL(cpu.size(), cuda.size());
    for (size_t i = 0; i < cpu.size(); ++i) BOOST_CHECK_CLOSE(cpu[i], cuda[i], 1e-8);
    BOOST_CHECK_LT(cuda.back(), cuda.front());
}

BOOST_AUTO_TEST_CASE(caching_allocator_reuses_blocks, *boost::unit_test::precondition(GpuAvailable())) {
    cuda::empty_cache();
    { Tensor a = Tensor::zeros({1000}, DType::Float32, gpu); }
    int64_t before = cuda::memory_stats().driver_allocations;
    cuda::MemoryStats s = cuda::memory_stats();
    BOOST_CHECK_GT(s.cached, 0u);
    { Tensor b = Tensor::zeros({1000}, DType::Float32, gpu); }
    BOOST_CHECK_EQUAL(cuda::memory_stats().driver_allocations, before);  // served from the cache
    cuda::empty_cache();
    BOOST_CHECK_EQUAL(cuda::memory_stats().cached, 0u);
    BOOST_CHECK(!cuda::device_name(0).empty());
}

// Out of memory: the allocator empties its cache and retries once, on the device that asked (the
// cache may hold blocks of other devices), then says how much was asked for.
BOOST_AUTO_TEST_CASE(out_of_memory_retries_after_emptying_the_cache, *boost::unit_test::precondition(GpuAvailable())) {
    cuda::empty_cache();
    const int last = cuda::device_count() - 1;
    { Tensor other = Tensor::zeros({1000}, DType::Float32, Device::cuda(last)); }  // a cached block elsewhere
    const int64_t n = int64_t(cuda::memory_info(0).free / 4 * 6 / 10);  // 60% of device 0, as float32
    { Tensor a = Tensor::zeros({n}, DType::Float32, gpu); }  // cached: the next one does not fit beside it
    BOOST_REQUIRE_GT(cuda::memory_stats().cached, size_t(n) * 4);
    Tensor b = Tensor::ones({n / 2 + 1024 * 1024}, DType::Float64, gpu);  // another size: a second cudaMalloc
    BOOST_CHECK_EQUAL(cuda::memory_stats().cached, 0u);
    BOOST_CHECK_EQUAL(sum(b).item(), double(n / 2 + 1024 * 1024));  // made on cuda:0, and usable there
    const int64_t too_many = int64_t(cuda::memory_info(0).total / 4 + 1);
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({too_many}, DType::Float32, gpu), "cuda allocate: out of memory",
                         "after emptying the cache and retrying once");
    b = Tensor();
    cuda::empty_cache();  // the cases after this one need the device's memory
}

// Each op runs on its tensors' device, whichever device the previous op used; GEMMs too.
BOOST_AUTO_TEST_CASE(ops_on_a_second_device_match_cpu, *boost::unit_test::precondition(TwoGpusAvailable())) {
    const Device second = Device::cuda(1);
    Generator gen(5);
    Tensor a = Tensor::randn({4, 6}, gen, DType::Float64), b = Tensor::randn({6, 3}, gen, DType::Float64);
    Tensor a1 = leaf_on(a, second), b1 = leaf_on(b, second);
    Tensor on_first = Tensor::ones({3}, DType::Float64, gpu) * 2.0;  // cuda:0 is current now
    Tensor y = matmul(a1, b1) + sum(matmul(a1, b1));
    Tensor linear_y = linear(a1, leaf_on(transpose(b, 0, 1), second), Tensor());
    backward(sum(y) + sum(linear_y));
    Tensor a_cpu = a.detach().set_requires_grad(), b_cpu = b.detach().set_requires_grad();
    Tensor y_cpu = matmul(a_cpu, b_cpu) + sum(matmul(a_cpu, b_cpu));
    Tensor linear_cpu = linear(a_cpu, transpose(b, 0, 1), Tensor());
    check_close(y_cpu.detach(), y.detach(), 1e-12, "matmul on cuda:1");
    check_close(linear_cpu.detach(), linear_y.detach(), 1e-12, "linear on cuda:1");
    backward(sum(y_cpu) + sum(linear_cpu));
    check_close(a_cpu.grad(), a1.grad(), 1e-12, "gradient on cuda:1");
    BOOST_CHECK_EQUAL(sum(on_first).item(), 6.0);
}

BOOST_AUTO_TEST_CASE(missing_device_index_is_a_clear_error, *boost::unit_test::precondition(GpuAvailable())) {
    const int missing = cuda::device_count();
    TAPEGRAD_CHECK_ERROR(Tensor::zeros({2}, DType::Float32, Device::cuda(missing)), "cuda allocate",
                         "does not exist");
    TAPEGRAD_CHECK_ERROR(cuda::device_name(missing), "does not exist");
}

namespace {
// The bits of t (on any device), as the host holds them.
std::vector<double> values_of(const Tensor& t) { return to(t.detach(), Device::cpu()).to_double_vector(); }

// Small on the host emulation (it runs every GPU thread in turn), large on a GPU.
int64_t scaled(int64_t emulated, int64_t on_gpu) {
    return cuda::device_name(0).find("emulation") != std::string::npos ? emulated : on_gpu;
}
}  // namespace

// The reductions sum in a fixed order (no atomics): the same inputs give the same bits on every
// run, here a sum long enough to be split over blocks and summed again, a broadcast operand's
// gradient, and a sum over the leading dim; and they agree with the CPU's float64 sum.
BOOST_AUTO_TEST_CASE(sums_are_bit_identical_across_runs, *boost::unit_test::precondition(GpuAvailable())) {
    const int64_t n = scaled(int64_t(1) << 17, int64_t(16) << 20);
    Generator gen(5);
    Tensor x_cpu = Tensor::randn({n}, gen);
    Tensor x = to(x_cpu, gpu);
    Tensor bias = leaf_on(Tensor::randn({64}, gen), gpu);
    Tensor rows = to(reshape(x_cpu, {n / 64, 64}), gpu);
    auto run = [&] {
        bias.zero_grad();
        backward(sum(rows + bias));  // dL/dbias = the sum of the rows' ones: [n / 64] terms each
        return std::vector<std::vector<double>>{values_of(sum(x)), values_of(bias.grad()), values_of(sum(rows, 0))};
    };
    const auto first = run(), second = run();
    BOOST_CHECK(first[0] == second[0]);
    BOOST_CHECK(first[1] == second[1]);
    BOOST_CHECK(first[2] == second[2]);
    const double exact = sum(to(x_cpu, DType::Float64)).item();
    BOOST_CHECK_SMALL(first[0][0] - exact, 1e-6 * std::sqrt(double(n)));
    BOOST_CHECK_EQUAL(first[1][0], double(n / 64));
}

// Rows longer than a block (so split over blocks for max), a row per block and a warp per row,
// strided rows (the max over axis 0): max, argmax, softmax and log_softmax with their gradients
// against the CPU; max's ties and NaN follow the CPU's first-index rule.
BOOST_AUTO_TEST_CASE(long_rows_match_cpu, *boost::unit_test::precondition(GpuAvailable())) {
    const int64_t long_row = scaled(60000, 3000000);
    Generator gen(6);
    for (Shape shape : {Shape{long_row}, Shape{3, 3000}, Shape{7, 1000}, Shape{3000, 3}, Shape{40, 300}}) {
        BOOST_TEST_CONTEXT(to_string(shape)) {
            Tensor x = Tensor::randn(shape, gen, DType::Float64);
            for (int axis : {0, int(shape.size()) - 1}) {
                BOOST_TEST_CONTEXT("axis " << axis) {
                    Tensor a = leaf_on(x, Device::cpu()), b = leaf_on(x, gpu);
                    check_close(max(a, axis, false), max(b, axis, false), 0, "max");
                    check_close(argmax(a, axis), argmax(b, axis), 0, "argmax");
                    Tensor seed = Tensor::randn(shape, gen, DType::Float64);
                    for (bool log : {false, true}) {
                        Tensor ya = log ? log_softmax(a, axis) : softmax(a, axis);
                        backward(sum(ya * seed));  // backward clears the tape: one device at a time
                        Tensor yb = log ? log_softmax(b, axis) : softmax(b, axis);
                        backward(sum(yb * to(seed, gpu)));
                        check_close(ya, yb, 1e-10, log ? "log_softmax" : "softmax");
                        check_close(a.grad(), b.grad(), 1e-10, "softmax gradient");
                        a.zero_grad();
                        b.zero_grad();
                    }
                }
            }
        }
    }
    // Ties: the first index of the largest value; a NaN after the first element is skipped, a
    // NaN first element is the max (the CPU's rule).
    std::vector<double> values(long_row, 1.0);
    values[long_row / 3] = values[long_row - 1] = 2.0;
    values[long_row / 5] = std::nan("");
    Tensor ties = Tensor::from_values(values, {long_row}, DType::Float64);
    BOOST_CHECK_EQUAL(argmax(to(ties, gpu), 0).item(), double(long_row / 3));
    BOOST_CHECK_EQUAL(argmax(ties, 0).item(), double(long_row / 3));
    values[0] = std::nan("");
    ties = Tensor::from_values(values, {long_row}, DType::Float64);
    BOOST_CHECK_EQUAL(argmax(to(ties, gpu), 0).item(), 0.0);
    BOOST_CHECK_EQUAL(argmax(ties, 0).item(), 0.0);
}

// A bad index on the GPU is found by the kernel and reported at the next synchronisation
// (cuda/index_errors.h), naming the op, the index, its position and the valid range; the record is
// then clear, and later ops run.
BOOST_AUTO_TEST_CASE(out_of_range_index_is_reported_at_the_next_synchronisation,
                     *boost::unit_test::precondition(GpuAvailable())) {
    Tensor table = Tensor::zeros({5, 3}, DType::Float32, gpu);
    Tensor bad = to(Tensor::from_vector(std::vector<int64_t>{1, 5, 2}, {3}), gpu);
    Tensor y;
    BOOST_CHECK_NO_THROW(y = index_select(table, 0, bad));  // no synchronisation here
    TAPEGRAD_CHECK_ERROR(to(y, Device::cpu()), "index_select", "index 5", "position 1", "< 5", "copy_to_host");
    BOOST_CHECK_NO_THROW(to(index_select(table, 0, to(Tensor::from_vector(std::vector<int64_t>{4, 0}, {2}), gpu)),
                            Device::cpu()));
    Tensor logits = Tensor::zeros({2, 3}, DType::Float32, gpu);
    Tensor loss = cross_entropy(logits, to(Tensor::from_vector(std::vector<int64_t>{0, -1}, {2}), gpu));
    TAPEGRAD_CHECK_ERROR(cuda::synchronize(), "gather", "index -1", "position 1", "< 3", "cuda::synchronize");
    active_tape().clear();
    BOOST_CHECK_NO_THROW(cuda::synchronize());
}

namespace {
// Builds the same model twice from one seed, in float64, one copy on each device; runs `forward`
// on both with the same input and upstream gradient, and compares the output and every
// parameter's gradient (the whole composed cell, forward and backward, op for op).
template <typename Model, typename Make, typename Forward>
void compare_model(const std::string& name, Make make, const Tensor& input, Forward forward, Device device = gpu) {
    BOOST_TEST_CONTEXT(name) {
        Generator gen_cpu(11), gen_gpu(11);
        std::unique_ptr<Model> cpu_model = make(gen_cpu), gpu_model = make(gen_gpu);
        cpu_model->to(DType::Float64);
        gpu_model->to(DType::Float64);
        gpu_model->to(device);
        Tensor x64 = to(input, DType::Float64);
        Tensor y_cpu = forward(*cpu_model, x64);  // backward clears the tape: one device at a time
        Generator seed_gen(12);
        Tensor seed = Tensor::randn(y_cpu.shape(), seed_gen, DType::Float64);
        backward(y_cpu, {seed});
        Tensor y_gpu = forward(*gpu_model, to(x64, device));
        backward(y_gpu, {to(seed, device)});
        check_close(y_cpu, y_gpu, 1e-10, "output");
        auto cpu_params = cpu_model->named_parameters(), gpu_params = gpu_model->named_parameters();
        BOOST_REQUIRE_EQUAL(cpu_params.size(), gpu_params.size());
        for (size_t i = 0; i < cpu_params.size(); ++i)
            check_close(cpu_params[i].second.grad(), gpu_params[i].second.grad(), 1e-10, "gradient of " + cpu_params[i].first);
    }
}
}  // namespace

// Every recurrent model of models/ (padded batch of mixed lengths), in both schedules
// (models/schedule.h), and the Transformer, on both devices in float64: the composed cells must
// agree to rounding, forward and backward.
BOOST_AUTO_TEST_CASE(every_model_matches_cpu, *boost::unit_test::precondition(GpuAvailable())) {
    Generator gen(21);
    Tensor x = Tensor::randn({3, 7, 5}, gen);  // [B, T, D]
    const std::vector<int64_t> lengths = {7, 4, 1};
    for (Schedule schedule : {Schedule::Fast, Schedule::Reference}) {
        const std::string in_schedule = schedule == Schedule::Fast ? " (fast)" : " (reference)";
        for (CellType type : {CellType::RNN, CellType::LSTM, CellType::GRU})
            compare_model<Recurrent>(
                "recurrent " + std::to_string(int(type)) + in_schedule,
                [&](Generator& g) { return std::make_unique<Recurrent>(type, 5, 6, 2, g); }, x,
                [&](Recurrent& m, const Tensor& in) {
                    m.schedule = schedule;
                    return m.forward(in, lengths).output;
                });
        compare_model<BiLstm>(
            "bilstm" + in_schedule, [](Generator& g) { return std::make_unique<BiLstm>(5, 6, 1, g); }, x,
            [&](BiLstm& m, const Tensor& in) {
                m.schedule = schedule;
                return m.forward(in, lengths).output;
            });
        for (bool psug : {true, false}) {
            QlLstmOptions options;
            options.psug = psug;
            options.block_size = 3;  // K does not divide T = 7
            compare_model<QlLstm>(
                std::string("qllstm psug=") + (psug ? "on" : "off") + in_schedule,
                [&](Generator& g) { return std::make_unique<QlLstm>(5, 6, g, options); }, x,
                [&](QlLstm& m, const Tensor& in) {
                    m.schedule = schedule;
                    return m.forward(in, lengths).output;
                });
        }
        for (int64_t refinements : {0, 1, 2})
            compare_model<PrLstm>(
                "prlstm R=" + std::to_string(refinements) + in_schedule,
                [&](Generator& g) { return std::make_unique<PrLstm>(5, 6, 3, g, refinements); }, x,
                [&](PrLstm& m, const Tensor& in) {
                    m.schedule = schedule;
                    return m.forward(in);
                });
        compare_model<PrLstm>(
            "prrnn" + in_schedule, [](Generator& g) { return std::make_unique<PrLstm>(5, 6, 3, g, 1, PrCell::RNN); }, x,
            [&](PrLstm& m, const Tensor& in) {
                m.schedule = schedule;
                return m.forward(in);
            });
    }
    TransformerOptions options;
    options.d_model = 8, options.heads = 2, options.layers = 2, options.dropout = 0.0, options.causal = true;
    compare_model<TransformerEncoder>(
        "transformer", [&](Generator& g) { return std::make_unique<TransformerEncoder>(0, 5, options, g); }, x,
        [&](TransformerEncoder& m, const Tensor& in) { return m.forward(in, lengths); });
}

// Models on the second device while tensors of the first are about: every GEMM (matmul, and the
// packed per-step products of a recurrent layer) makes its tensors' device current and uses that
// device's cuBLAS handle (the emulation checks the handle's device against the current one), and a
// bad index there is reported naming that device.
BOOST_AUTO_TEST_CASE(second_device_matches_cpu, *boost::unit_test::precondition(TwoGpusAvailable())) {
    const Device second = Device::cuda(1);
    Generator gen(21);
    Tensor x = Tensor::randn({3, 7, 5}, gen);
    Tensor on_first = Tensor::ones({4}, DType::Float64, gpu);
    compare_model<Recurrent>(
        "lstm on cuda:1", [](Generator& g) { return std::make_unique<Recurrent>(CellType::LSTM, 5, 6, 1, g); }, x,
        [&](Recurrent& m, const Tensor& in) {
            on_first = on_first * 2.0;  // the first device current between the second's ops
            return m.forward(in, {7, 4, 1}).output;
        },
        second);
    TransformerOptions options;
    options.d_model = 8, options.heads = 2, options.layers = 1, options.dropout = 0.0, options.causal = true;
    compare_model<TransformerEncoder>(
        "transformer on cuda:1", [&](Generator& g) { return std::make_unique<TransformerEncoder>(0, 5, options, g); },
        x, [&](TransformerEncoder& m, const Tensor& in) { return m.forward(in, {7, 4, 1}); }, second);
    Tensor table = Tensor::zeros({5, 3}, DType::Float32, second);
    Tensor y = index_select(table, 0, to(Tensor::from_vector(std::vector<int64_t>{7}, {1}), second));
    TAPEGRAD_CHECK_ERROR(to(y, Device::cpu()), "index_select", "index 7", "cuda:1");
}
