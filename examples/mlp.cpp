// A first tapegrad program: a small MLP learns to separate two interleaved half-moons.
//
//   data    x [256, 2] points on two noisy half-circles, y [256, 1] their moon (0 or 1)
//   model   h1 = tanh(x W1^T + b1)  [256, 16]
//           h2 = tanh(h1 W2^T + b2) [256, 16]
//           logit = h2 W3^T + b3    [256, 1]
//   loss    mean binary cross-entropy of sigmoid(logit) against y
//   update  full-batch gradient descent, p <- p - lr dL/dp
//
// It prints the loss as it falls, then the tape of one training step (one line per recorded
// op) and the gradient of every parameter after that step's backward pass.
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/inspect.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {

struct Dataset {
    Tensor x, y;  // [N, 2], [N, 1]
};

// Moon 0: (cos t, sin t); moon 1: (1 - cos t, 1/2 - sin t), t uniform in [0, pi], plus
// Gaussian noise of standard deviation `noise` on each coordinate.
Dataset two_moons(int64_t n, double noise, Generator& gen) {
    std::vector<double> t = Tensor::uniform({n}, 0.0, M_PI, gen, DType::Float64).to_vector<double>();
    std::vector<double> jitter = Tensor::randn({n, 2}, gen, DType::Float64).to_vector<double>();
    std::vector<float> x(n * 2), y(n);
    for (int64_t i = 0; i < n; ++i) {
        bool second = i % 2 == 1;
        y[i] = second ? 1.f : 0.f;
        x[2 * i] = float((second ? 1 - std::cos(t[i]) : std::cos(t[i])) + noise * jitter[2 * i]);
        x[2 * i + 1] = float((second ? 0.5 - std::sin(t[i]) : std::sin(t[i])) + noise * jitter[2 * i + 1]);
    }
    return {Tensor::from_vector(x, {n, 2}), Tensor::from_vector(y, {n, 1})};
}

struct Parameter {
    std::string name;
    Tensor value;
};

// A Linear layer's weight [out, in] and bias [out], uniform in +-1/sqrt(in) (PyTorch's default).
void add_linear(std::vector<Parameter>& params, const std::string& name, int64_t in, int64_t out, Generator& gen) {
    double bound = 1.0 / std::sqrt(double(in));
    params.push_back({name + ".weight", Tensor::uniform({out, in}, -bound, bound, gen).set_requires_grad()});
    params.push_back({name + ".bias", Tensor::uniform({out}, -bound, bound, gen).set_requires_grad()});
}

// The logits of the model above; params holds W1, b1, W2, b2, W3, b3 in that order.
Tensor forward(const std::vector<Parameter>& p, const Tensor& x) {
    Tensor h1, h2;
    {
        NameScope scope("hidden1");
        h1 = tanh(linear(x, p[0].value, p[1].value));
    }
    {
        NameScope scope("hidden2");
        h2 = tanh(linear(h1, p[2].value, p[3].value));
    }
    NameScope scope("output");
    return linear(h2, p[4].value, p[5].value);
}

// p <- p - lr dL/dp in place, with the backend's SGD kernel (no momentum), then clears the gradient.
void sgd_update(std::vector<Parameter>& params, double lr) {
    SgdHyper hyper;
    hyper.lr = lr;
    Tensor no_momentum;
    for (Parameter& p : params) {
        backend_for(p.value.device()).sgd_step(p.value, p.value.grad(), no_momentum, hyper);
        p.value.zero_grad();
    }
}

// The fraction of points whose logit has the sign of their label.
double accuracy(const Tensor& logits, const Tensor& labels) {
    std::vector<float> z = logits.to_vector<float>(), y = labels.to_vector<float>();
    int correct = 0;
    for (size_t i = 0; i < z.size(); ++i) correct += (z[i] > 0) == (y[i] > 0.5f);
    return double(correct) / double(z.size());
}

std::string first_values(const Tensor& t, size_t count) {
    std::vector<float> v = t.to_vector<float>();
    std::string s;
    for (size_t i = 0; i < std::min(count, v.size()); ++i) s += fmt::format("{}{:+.2e}", i ? ", " : "", v[i]);
    return s + (v.size() > count ? ", ..." : "");
}

double norm(const Tensor& t) {
    double sum_of_squares = 0;
    for (float v : t.to_vector<float>()) sum_of_squares += double(v) * v;
    return std::sqrt(sum_of_squares);
}

}  // namespace

int main(int argc, char** argv) {
    use_fast_blas_kernels(argc, argv);
    fmt::print("{}\n\n", blas_summary());

    Generator gen(42);
    Dataset data = two_moons(256, 0.1, gen);
    std::vector<Parameter> params;
    add_linear(params, "hidden1", 2, 16, gen);
    add_linear(params, "hidden2", 16, 16, gen);
    add_linear(params, "output", 16, 1, gen);

    const int steps = 1500;
    const double learning_rate = 0.5;
    fmt::print("two moons, 256 points; MLP 2 -> 16 -> 16 -> 1 (tanh); full-batch SGD, lr {}\n", learning_rate);
    for (int step = 0; step < steps; ++step) {
        Tensor logits = forward(params, data.x);
        Tensor loss = bce_with_logits(logits, data.y);
        backward(loss);
        sgd_update(params, learning_rate);
        if (step % 100 == 0 || step == steps - 1)
            fmt::print("step {:5d}  loss {:.4f}  accuracy {:.3f}\n", step, loss.item(), accuracy(logits, data.y));
    }

    fmt::print("\nThe tape of one step (forward pass, before backward):\n");
    Tensor loss = bce_with_logits(forward(params, data.x), data.y);
    print_tape(std::cout, active_tape());
    backward(loss);

    fmt::print("\nGradients after that step's backward (loss {:.4f}):\n", loss.item());
    for (const Parameter& p : params) {
        Tensor g = p.value.grad();
        fmt::print("{:<16} {:<9} norm {:.3e}  [{}]\n", p.name, to_string(g.shape()), norm(g), first_values(g, 4));
    }
    return 0;
}
