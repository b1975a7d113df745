#include "metrics.h"

#include <limits>

#include "../ops/reduce.h"

namespace tapegrad {

double accuracy(const Tensor& logits, const Tensor& targets) {
    if (logits.dim() != 2 || targets.dtype() != DType::Int64 || targets.dim() != 1 || targets.size(0) != logits.size(0))
        fail("accuracy", "logits {} and targets {} (expected [N, C] and Int64 [N])", logits.describe(), targets.describe());
    const std::vector<int64_t> predicted = argmax(logits, 1).to_vector<int64_t>(), truth = targets.to_vector<int64_t>();
    const int64_t classes = logits.size(1);
    int64_t correct = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
        if (truth[i] < 0 || truth[i] >= classes)
            fail("accuracy", "target {} at position {} is out of range for logits {} (expected 0 <= target < {})",
                 truth[i], i, logits.describe(), classes);
        correct += predicted[i] == truth[i];
    }
    return truth.empty() ? std::numeric_limits<double>::quiet_NaN() : double(correct) / double(truth.size());
}

}  // namespace tapegrad
