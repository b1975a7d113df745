/// \file
/// The basic layers: Linear, Embedding, LayerNorm, Dropout, and the activations as modules. Each is a Module holding its
/// parameters; forward() composes primitive ops, so every step lands on the tape.
#pragma once
#include "../core/random.h"
#include "module.h"

namespace tapegrad {

/// y = x W^T + b       x [..., in] -> y [..., out];  W [out, in], b [out]
class Linear : public Module {
public:
    /// W [out_features, in_features] and, unless bias = false, b [out_features], initialised from `gen`.
    Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
    /// x [..., in] -> x W^T + b [..., out].
    Tensor forward(const Tensor& x) const;
    Tensor weight;  ///< [out, in], uniform ±1/sqrt(in) (PyTorch's default)
    Tensor bias;    ///< [out], same init; undefined without bias
};

/// y = W[ids]          ids Int64 [...] -> y [..., dim];  W [num_embeddings, dim] ~ N(0, 1)
/// The backward pass scatter-adds into the rows used. With a padding index, that row starts at
/// zero and never receives gradient (its uses are masked out of the lookup's backward).
class Embedding : public Module {
public:
    /// W [num_embeddings, dim] drawn from `gen`; padding_idx >= 0 names the padding row (zero, no gradient), -1 none.
    Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, int64_t padding_idx = -1);
    /// ids Int64 [...] -> the rows W[ids] [..., dim].
    Tensor forward(const Tensor& ids) const;
    Tensor weight;  ///< [num_embeddings, dim]
    int64_t padding_idx;  ///< the padding row, or -1 for none
};

/// y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dim (biased variance, as PyTorch),
/// composed of mean, sub, mul, sqrt and div.
class LayerNorm : public Module {
public:
    /// Normalises over a last dim of extent `dim`; eps is added to the variance.
    explicit LayerNorm(int64_t dim, double eps = 1e-5);
    /// x [..., dim] -> the normalised x, scaled and shifted, [..., dim].
    Tensor forward(const Tensor& x) const;
    Tensor weight;  ///< gamma [dim], ones
    Tensor bias;    ///< beta [dim], zeros
    double eps;  ///< added to the variance
};

/// Inverted dropout with its own generator; the identity in eval().
class Dropout : public Module {
public:
    /// Drops with probability p (0 <= p < 1), its masks drawn from a Generator seeded with `seed`.
    Dropout(double p, uint64_t seed);
    /// x with each element zeroed with probability p and the rest scaled by 1/(1-p) when training; x when not.
    Tensor forward(const Tensor& x);
    double p;  ///< the drop probability
    Generator gen;  ///< the masks' random stream
};

/// y = tanh(x), as a module without parameters (torch.nn.Tanh), for Sequential.
class Tanh : public Module {
public:
    Tensor forward(const Tensor& x) const;  ///< tanh(x), same shape
};

/// y = max(x, 0), as a module without parameters (torch.nn.ReLU), for Sequential.
class ReLU : public Module {
public:
    Tensor forward(const Tensor& x) const;  ///< max(x, 0), same shape
};

/// y = 1 / (1 + exp(-x)), as a module without parameters (torch.nn.Sigmoid), for Sequential.
class Sigmoid : public Module {
public:
    Tensor forward(const Tensor& x) const;  ///< sigmoid(x), same shape
};

}  // namespace tapegrad
