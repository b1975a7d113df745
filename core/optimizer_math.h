/// \file
/// Per-element parameter updates of the optimizers (PyTorch's equations), host and device.
#pragma once
#include <cmath>

#include "backend.h"
#include "hostdevice.h"

namespace tapegrad {

/// Adam (decoupled = false):  g <- g + wd p
/// AdamW (decoupled = true):  p <- p (1 - lr wd)
/// then  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
///       p <- p - lr (m / bc1) / (sqrt(v / bc2) + eps)
template <typename T>
TG_HD void adam_element(T& p, T g, T& m, T& v, const AdamHyper& h) {
    if (h.decoupled) p = p * T(1.0 - h.lr * h.weight_decay);
    else g = g + T(h.weight_decay) * p;
    m = T(h.beta1) * m + T(1.0 - h.beta1) * g;
    v = T(h.beta2) * v + T(1.0 - h.beta2) * g * g;
    T m_hat = m / T(h.bias_correction1);
    T v_hat = v / T(h.bias_correction2);
    using std::sqrt;
    p = p - T(h.lr) * m_hat / (sqrt(v_hat) + T(h.eps));
}

/// g <- g + wd p;  buf <- g (first step) or momentum buf + (1 - dampening) g
/// step = g + momentum buf (nesterov) or buf;  p <- p - lr step   (no momentum: step = g)
template <typename T>
TG_HD void sgd_element(T& p, T g, T& buf, const SgdHyper& h) {
    g = g + T(h.weight_decay) * p;
    T step = g;
    if (h.momentum != 0.0) {
        buf = h.first_step ? g : T(h.momentum) * buf + T(1.0 - h.dampening) * g;
        step = h.nesterov ? g + T(h.momentum) * buf : buf;
    }
    p = p - T(h.lr) * step;
}

}  // namespace tapegrad
