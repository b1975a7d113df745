#include "gradcheck.h"

#include <cmath>

#include "tape.h"
#include "../core/backend.h"

namespace tapegrad {

namespace {
double projected(const Tensor& y, const std::vector<double>& direction) {
    std::vector<double> values = y.to_double_vector();
    double total = 0;
    for (size_t i = 0; i < values.size(); ++i) total += values[i] * direction[i];
    return total;
}

void write_values(Tensor& t, const std::vector<double>& values) {
    backend_for(t.device()).copy_from_host(t.raw_data(), values.data(), values.size() * sizeof(double));
}
}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad() && inputs[i].dtype() != DType::Float64)
            fail("gradcheck", "input {} is {}; finite differences need float64 inputs", i, inputs[i].describe());

    // Analytical: backward of <f(x), R> on a private tape, reading the leaves' gradients.
    std::vector<Tensor> saved_grads;
    for (Tensor x : inputs) {  // copies of the handle: zero_grad() affects the caller's tensor
        saved_grads.push_back(x.grad());
        x.zero_grad();
    }
    Tape tape;
    std::vector<double> direction;
    std::vector<std::vector<double>> analytical(inputs.size());
    {
        TapeGuard guard(tape);
        Tensor y = f(inputs);
        Generator gen(options.seed);
        Tensor r = Tensor::randn(y.shape(), gen, DType::Float64, y.device());
        direction = r.to_double_vector();
        if (y.requires_grad()) backward(y, {r});
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (!inputs[i].requires_grad()) continue;
            Tensor g = inputs[i].grad();
            analytical[i] = g.defined() ? g.to_double_vector() : std::vector<double>(inputs[i].numel(), 0.0);
        }
    }
    for (size_t i = 0; i < inputs.size(); ++i) Tensor(inputs[i]).set_grad(saved_grads[i]);

    // Numerical: central differences, one element at a time, without recording.
    GradcheckResult result;
    NoGrad no_grad;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].requires_grad()) continue;
        Tensor x = inputs[i];
        std::vector<double> values = x.to_double_vector();
        for (size_t k = 0; k < values.size(); ++k) {
            double original = values[k];
            values[k] = original + options.eps;
            write_values(x, values);
            double plus = projected(f(inputs), direction);
            values[k] = original - options.eps;
            write_values(x, values);
            double minus = projected(f(inputs), direction);
            values[k] = original;
            write_values(x, values);

            double numerical = (plus - minus) / (2 * options.eps);
            double error = std::fabs(analytical[i][k] - numerical);
            result.max_abs_error = std::max(result.max_abs_error, error);
            ++result.checked;
            if (result.ok && !(error <= options.atol + options.rtol * std::fabs(numerical))) {
                result.ok = false;
                result.message = fmt::format(
                    "input {} {} element {}: analytical gradient {:.10g}, numerical {:.10g} (|diff| {:.3g} > "
                    "atol {:.1g} + rtol {:.1g} * |numerical|)",
                    i, to_string(x.shape()), k, analytical[i][k], numerical, error, options.atol, options.rtol);
            }
        }
    }
    return result;
}

}  // namespace tapegrad
