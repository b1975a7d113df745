// What anomaly mode costs: one MLP training step (forward + backward) with DetectAnomaly on,
// as a ratio to the same step with it off, measured in the same run. Anomaly mode reads every op
// output and every gradient back as doubles and scans it: its cost grows with the elements the
// ops write, not with their flops (figures in docs/BENCHMARKS.md). It is a debugging tool, off by
// default.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "autograd/anomaly.h"
#include "bench/bench_timing.h"
#include "tapegrad.h"

using namespace tapegrad;
using tapegrad::bench::median_seconds;

namespace {
// x [B, D] -> relu(x W1 + b1) W2 + b2 -> cross-entropy against fixed labels, then backward.
void report(int64_t batch, int64_t input, int64_t hidden, int64_t classes) {
    Generator gen(1);
    Tensor x = Tensor::randn({batch, input}, gen);
    Tensor w1 = Tensor::randn({input, hidden}, gen).set_requires_grad();
    Tensor b1 = Tensor::zeros({hidden}).set_requires_grad();
    Tensor w2 = Tensor::randn({hidden, classes}, gen).set_requires_grad();
    Tensor b2 = Tensor::zeros({classes}).set_requires_grad();
    std::vector<int64_t> label_values(batch);
    for (int64_t b = 0; b < batch; ++b) label_values[b] = b % classes;
    Tensor labels = Tensor::from_vector(label_values, {batch});
    auto training_step = [&] {
        Tensor loss = cross_entropy(matmul(relu(matmul(x, w1) + b1), w2) + b2, labels);
        backward(loss);
    };
    double off = median_seconds(21, training_step);
    double on = median_seconds(21, [&] {
        DetectAnomaly anomaly;
        training_step();
    });
    std::printf("MLP step B=%-4lld %4lld-%4lld-%-3lld  off %8.3f ms  on %8.3f ms  on/off %.2fx\n", (long long)batch,
                (long long)input, (long long)hidden, (long long)classes, off * 1e3, on * 1e3, on / off);
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"What anomaly mode costs: a train step with DetectAnomaly against the same step without"};
    CLI11_PARSE(app, argc, argv);
    std::printf("anomaly mode overhead (median of 21 steps each)\n");
    report(32, 64, 64, 10);
    report(64, 784, 256, 10);
    report(256, 1024, 1024, 10);
    return 0;
}
