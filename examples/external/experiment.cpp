// A user's own experiment, outside tapegrad's tree: an LSTM learns whether a sequence sums to more
// than zero. Built against an installed tapegrad by this folder's Makefile (pkg-config) or
// CMakeLists.txt (find_package); `make test` builds and runs both. The README shows it from here on.
#include <cstdio>
#include <tapegrad/tapegrad.h>  // the whole public API
using namespace tapegrad;

struct Classifier : Module {
    Recurrent lstm;
    Linear head;
    explicit Classifier(Generator& gen) : lstm(CellType::LSTM, 1, 16, 1, gen), head(16, 1, gen) {
        register_module("lstm", &lstm);
        register_module("head", &head);
    }
    Tensor forward(const Tensor& x) const {        // x [B, T, 1] -> logits [B, 1]
        Tensor h = lstm.forward(x).output;          // [B, T, 16]
        return head.forward(select(h, 1, -1));      // read at the last step
    }
};

int main() {
    Generator gen(0);
    Classifier model(gen);
    Adam optimizer(model.parameters(), {/*lr=*/0.02});
    double first = 0, last = 0;
    for (int step = 0; step <= 150; ++step) {
        Tensor x = Tensor::uniform({32, 10, 1}, -1, 1, gen);   // a fresh batch [B, T, 1]
        Tensor y = gt(sum(x, 1), Tensor::zeros({1}));          // 1 where the sum is positive [B, 1]
        Tensor loss = bce_with_logits(model.forward(x), y);
        backward(loss);
        optimizer.step();
        optimizer.zero_grad();
        last = loss.item();
        if (step == 0) first = last;
        if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, last);
    }
    std::printf("CUDA backend linked: %s, GPUs: %d\n", cuda::is_built() ? "yes" : "no", cuda::device_count());
    return last < first / 2 ? 0 : 1;  // it must have learned something
}
