#include "containers.h"

namespace tapegrad {

size_t checked_index(const char* container, int64_t index, size_t size) {
    const int64_t n = int64_t(size);
    if (index < -n || index >= n)
        fail(container, "index {} is out of range for {} modules (expected {} <= index < {})", index, n, -n, n);
    return size_t(index < 0 ? index + n : index);
}

Tensor Sequential::forward(const Tensor& x) const {
    Tensor y = x;
    for (const auto& step : steps_) y = step(y);
    return y;
}

}  // namespace tapegrad
