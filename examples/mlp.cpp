// The first tapegrad program (`make run`): fit a small MLP to a noisy sine wave it generates,
// watch the loss fall, then look inside one training step: the tape it recorded and the
// gradient each parameter received.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "autograd/tape_print.h"
#include "models/optim.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {
// A fully connected layer's parameters: weight [out, in], bias [out].
struct Layer {
    Tensor weight, bias;
    Layer(int64_t in, int64_t out, Generator& gen) {
        double bound = 1.0 / std::sqrt(double(in));  // PyTorch's default Linear init
        weight = Tensor::uniform({out, in}, -bound, bound, gen).set_requires_grad();
        bias = Tensor::uniform({out}, -bound, bound, gen).set_requires_grad();
    }
};

// x [N, 1] -> y [N, 1]: two tanh hidden layers of 32 units.
Tensor mlp(const std::vector<Layer>& layers, const Tensor& x) {
    Tensor h = x;
    for (size_t i = 0; i < layers.size(); ++i) {
        NameScope scope("layer" + std::to_string(i));
        h = linear(h, layers[i].weight, layers[i].bias);
        if (i + 1 < layers.size()) h = tanh(h);
    }
    return h;
}
}  // namespace

int main() {
    // Data: 256 points of y = sin(3x) + noise on x in [-1, 1].
    Generator gen(7);
    const int64_t n = 256;
    Tensor x = Tensor::uniform({n, 1}, -1.0, 1.0, gen);
    Tensor y = Tensor::randn({n, 1}, gen) * 0.1;
    {
        NoGrad no_grad;  // building data: nothing to record
        std::vector<float> xs = x.to_vector<float>(), ys = y.to_vector<float>();
        for (int64_t i = 0; i < n; ++i) ys[i] += std::sin(3.0f * xs[i]);
        y = Tensor::from_vector(ys, {n, 1});
    }

    std::vector<Layer> layers = {Layer(1, 32, gen), Layer(32, 32, gen), Layer(32, 1, gen)};
    std::vector<Tensor> params;
    for (Layer& l : layers) params.insert(params.end(), {l.weight, l.bias});

    // Training: mean squared error, SGD with momentum (torch.optim.SGD's update).
    SGD optimizer(params, {/*lr=*/0.05, /*momentum=*/0.9});
    std::printf("training a 1-32-32-1 tanh MLP on y = sin(3x) + noise (256 points)\n");
    for (int step = 0; step <= 1500; ++step) {
        Tensor err = mlp(layers, x) - y;
        Tensor loss = mean(err * err);
        backward(loss);
        if (step % 150 == 0) std::printf("  step %4d   loss %.5f\n", step, loss.item());
        optimizer.step();
        optimizer.zero_grad();
    }

    // One more step, looked at: the tape of its forward pass, then each parameter's gradient.
    Tensor sample = slice(x, 0, 0, 4), target = slice(y, 0, 0, 4);
    Tensor err = mlp(layers, sample) - target;
    Tensor loss = mean(err * err);
    // keep_tape: print the tape after backward; retain_grads: with every record's gradient.
    backward(loss, {Tensor(), /*keep_tape=*/true, /*retain_grads=*/true});
    std::printf("\nthe tape of one step on 4 points (%zu records), values and gradients:\n%s", active_tape().size(),
                format_tape(active_tape()).c_str());
    active_tape().clear();
    std::printf("\ngradient of each parameter (d loss / d p):\n");
    const char* names[] = {"weight", "bias"};
    for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = params[i].grad();
        std::vector<double> v = g.to_double_vector();
        double norm = 0;
        for (double e : v) norm += e * e;
        std::printf("  layer%zu.%-6s %-9s norm %.5f  first values", i / 2, names[i % 2], to_string(g.shape()).c_str(),
                    std::sqrt(norm));
        for (size_t k = 0; k < std::min<size_t>(3, v.size()); ++k) std::printf(" %+.5f", v[k]);
        std::printf("\n");
    }
    return 0;
}
