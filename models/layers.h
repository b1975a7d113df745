// The basic layers: Linear, Embedding, LayerNorm, Dropout, and the activations as modules. Each is a Module holding its
// parameters; forward() composes primitive ops, so every step lands on the tape.
#pragma once
#include "../core/random.h"
#include "module.h"

namespace tapegrad {

// y = x W^T + b       x [..., in] -> y [..., out];  W [out, in], b [out]
class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
    Tensor forward(const Tensor& x) const;
    Tensor weight;  // [out, in], uniform ±1/sqrt(in) (PyTorch's default)
    Tensor bias;    // [out], same init; undefined without bias
};

// y = W[ids]          ids Int64 [...] -> y [..., dim];  W [num_embeddings, dim] ~ N(0, 1)
// The backward pass scatter-adds into the rows used. With a padding index, that row starts at
// zero and never receives gradient (its uses are masked out of the lookup's backward).
class Embedding : public Module {
public:
    Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, int64_t padding_idx = -1);
    Tensor forward(const Tensor& ids) const;
    Tensor weight;
    int64_t padding_idx;
};

// y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dim (biased variance, as PyTorch),
// composed of mean, sub, mul, sqrt and div.
class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t dim, double eps = 1e-5);
    Tensor forward(const Tensor& x) const;
    Tensor weight;  // gamma [dim], ones
    Tensor bias;    // beta [dim], zeros
    double eps;
};

// Inverted dropout with its own generator; the identity in eval().
class Dropout : public Module {
public:
    Dropout(double p, uint64_t seed);
    Tensor forward(const Tensor& x);
    double p;
    Generator gen;
};

/// y = tanh(x), as a module without parameters (torch.nn.Tanh), for Sequential.
class Tanh : public Module {
public:
    Tensor forward(const Tensor& x) const;
};

/// y = max(x, 0), as a module without parameters (torch.nn.ReLU), for Sequential.
class ReLU : public Module {
public:
    Tensor forward(const Tensor& x) const;
};

/// y = 1 / (1 + exp(-x)), as a module without parameters (torch.nn.Sigmoid), for Sequential.
class Sigmoid : public Module {
public:
    Tensor forward(const Tensor& x) const;
};

}  // namespace tapegrad
