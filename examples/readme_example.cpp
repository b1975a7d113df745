// The README's example, compiled so it cannot rot: fit y = 2x - 1 with a tape.
#include <cstdio>

#include "tapegrad.h"  // the whole public API
using namespace tapegrad;

int main() {
    Generator gen(0);
    Tensor x = Tensor::uniform({64, 1}, -1, 1, gen);          // inputs [N, 1]
    Tensor y = x * 2.0 - 1.0;                                  // targets [N, 1]
    Tensor w = Tensor::zeros({1, 1}).set_requires_grad();     // parameters: leaves that want gradients
    Tensor b = Tensor::zeros({1}).set_requires_grad();
    SGD optimizer({w, b}, {/*lr=*/0.1});                      // p <- p - lr dL/dp

    for (int step = 0; step < 200; ++step) {
        Tensor err = linear(x, w, b) - y;                      // every op is recorded on the tape
        Tensor loss = mean(err * err);
        backward(loss);                                        // one reverse walk over the tape
        optimizer.step();                                      // the update itself is not recorded
        optimizer.zero_grad();
        if (step % 40 == 0) std::printf("step %3d  loss %.6f\n", step, loss.item());
    }
    std::printf("w = %.4f, b = %.4f (expected 2, -1)\n", w.item(), b.item());
}
