#include "models/metrics.h"

#include "ops/reduce.h"

namespace tapegrad {

double accuracy(const Tensor& logits, const Tensor& targets) {
    if (logits.dim() != 2 || targets.dtype() != DType::Int64 || targets.dim() != 1 || targets.size(0) != logits.size(0))
        fail("accuracy", "logits {} and targets {} (expected [N, C] and Int64 [N])", logits.describe(), targets.describe());
    const std::vector<int64_t> predicted = argmax(logits, 1).to_vector<int64_t>(), truth = targets.to_vector<int64_t>();
    int64_t correct = 0;
    for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
    return truth.empty() ? 0.0 : double(correct) / double(truth.size());
}

}  // namespace tapegrad
