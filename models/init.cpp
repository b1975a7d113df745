#include "init.h"

#include <cmath>

namespace tapegrad {

Tensor uniform_init(const Shape& shape, double bound, Generator& gen) {
    return Tensor::uniform(shape, -bound, bound, gen);
}

Tensor truncated_normal_init(const Shape& shape, double stddev, Generator& gen) {
    std::vector<float> values(numel(shape));
    for (float& v : values) {
        double z;
        do {
            z = philox_normal(gen.seed(), gen.take(1));
        } while (std::fabs(z) > 2.0);
        v = float(z * stddev);
    }
    return Tensor::from_vector(values, shape);
}

}  // namespace tapegrad
