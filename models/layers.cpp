#include "layers.h"

#include <cmath>

#include "init.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/nn.h"
#include "../ops/reduce.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool with_bias) {
    checked_size("Linear", "in_features", in_features, 0);
    checked_size("Linear", "out_features", out_features, 0);
    double bound = in_features > 0 ? 1.0 / std::sqrt(double(in_features)) : 0.0;  // PyTorch's, 0 without inputs
    weight = uniform_init({out_features, in_features}, bound, gen);
    register_parameter("weight", &weight);
    if (with_bias) {
        bias = uniform_init({out_features}, bound, gen);
        register_parameter("bias", &bias);
    }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, int64_t padding)
    : padding_idx(padding) {
    checked_size("Embedding", "num_embeddings", num_embeddings, 0);
    checked_size("Embedding", "dim", dim, 0);
    if (padding_idx < -1 || padding_idx >= num_embeddings)
        fail("Embedding", "padding_idx {} is out of range for {} embeddings", padding_idx, num_embeddings);
    std::vector<float> values = Tensor::randn({num_embeddings, dim}, gen).to_vector<float>();
    if (padding_idx >= 0) std::fill_n(values.begin() + padding_idx * dim, dim, 0.0f);
    weight = Tensor::from_vector(values, {num_embeddings, dim});
    register_parameter("weight", &weight);
}

Tensor Embedding::forward(const Tensor& ids) const {
    Shape out_shape = ids.shape();
    out_shape.push_back(weight.shape()[1]);
    Tensor flat_ids = reshape(ids, {ids.numel()});
    Tensor rows = index_select(weight, 0, flat_ids);
    if (padding_idx >= 0) {
        // rows * keep, keep = 0 where id == padding_idx: padding positions read zeros and send no
        // gradient to the padding row (PyTorch's padding_idx semantics).
        std::vector<int64_t> id_values = flat_ids.to_vector<int64_t>();
        std::vector<double> keep(id_values.size());
        for (size_t i = 0; i < keep.size(); ++i) keep[i] = id_values[i] == padding_idx ? 0.0 : 1.0;
        Tensor keep_mask = Tensor::from_values(keep, {int64_t(keep.size()), 1}, weight.dtype(), weight.device());
        rows = rows * keep_mask;
    }
    return reshape(rows, out_shape);
}

LayerNorm::LayerNorm(int64_t dim, double eps_) : eps(eps_) {
    checked_size("LayerNorm", "dim", dim, 0);
    if (!(eps >= 0 && std::isfinite(eps))) fail("LayerNorm", "eps = {} is out of range (expected finite eps >= 0)", eps);
    weight = Tensor::ones({dim});
    bias = Tensor::zeros({dim});
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& x) const {
    if (x.dim() < 1 || x.shape().back() != weight.size(0))
        fail("LayerNorm", "input {} does not end in the {} features this layer normalises (expected [..., {}])",
             x.describe(), weight.size(0), weight.size(0));
    Tensor centered = x - mean(x, -1, true);
    Tensor variance = mean(centered * centered, -1, true);
    return centered / sqrt(variance + eps) * weight + bias;
}

Dropout::Dropout(double p_, uint64_t seed) : p(p_), gen(seed) {
    if (!(p >= 0 && p < 1)) fail("Dropout", "p = {} is out of range (expected 0 <= p < 1)", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, gen, training()); }

Tensor Tanh::forward(const Tensor& x) const { return tanh(x); }
Tensor ReLU::forward(const Tensor& x) const { return relu(x); }
Tensor Sigmoid::forward(const Tensor& x) const { return sigmoid(x); }

}  // namespace tapegrad
