/// \file
/// Optimizers with PyTorch's update equations and defaults, gradient clipping, and learning-rate
/// schedules. The per-element updates are the backend's fused kernels (core/optimizer_math.h), so
/// a step is one pass over each parameter on the CPU or the GPU.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "../core/backend.h"
#include "../core/tensor.h"

namespace tapegrad {

/// Arguments are checked as torch.optim checks them (and NaN or infinity is refused everywhere):
/// a non-empty parameter list, lr >= 0; each optimizer its own options (below). A bad value throws
/// tapegrad::Error naming the optimizer, the argument, its value and the range expected.
class Optimizer {
public:
    /// `name` ("Adam", "SGD" ...) starts the message of every error the optimizer raises.
    Optimizer(std::vector<Tensor> params, double lr, std::string name = "optimizer");
    virtual ~Optimizer() = default;
    /// Updates every parameter that has a gradient (parameters without one are skipped).
    virtual void step() = 0;
    void zero_grad();  ///< drops every parameter's gradient
    const std::string& name() const { return name_; }  ///< "Adam", "SGD" ...: the start of its error messages
    double lr() const { return lr_; }  ///< the learning rate of the next step
    void set_lr(double lr);  ///< lr finite and >= 0
    int64_t steps() const { return steps_; }  ///< steps taken so far (t of Adam's bias correction)
    void set_steps(int64_t steps) { steps_ = steps; }  ///< sets the steps taken (a resumed run restores it)
    const std::vector<Tensor>& params() const { return params_; }  ///< the parameters it updates
    /// Named state tensors ("exp_avg.3" ...) for checkpoints: saved and restored in place.
    virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;

protected:
    /// A zero tensor like each parameter (the optimizers' initial state).
    std::vector<Tensor> zeros_like_params() const;
    /// Moves state[i] to parameter i's device and dtype where the model was moved (Module::to)
    /// since: the state follows its parameter, values kept. Each step() and state() calls it.
    void follow_params(std::vector<Tensor>& state) const;
    std::vector<Tensor> params_;  ///< the parameters it updates
    std::string name_;  ///< its name, in errors
    double lr_;  ///< the learning rate
    int64_t steps_ = 0;  ///< steps taken so far
};

/// Adam's and AdamW's hyperparameters, with PyTorch's defaults.
struct AdamOptions {
    /// step size, moment decays b1 and b2, the denominator's eps, weight decay
    ///@{
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    ///@}
};

/// Adam (Kingma & Ba) as torch.optim.Adam: weight decay is added to the gradient (L2).
/// Checked: lr >= 0, 0 <= beta1 < 1, 0 <= beta2 < 1, eps >= 0, weight_decay >= 0, all finite.
///   m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  p <- p - lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
class Adam : public Optimizer {
public:
    /// Adam over `params`, its options checked as the class says.
    Adam(std::vector<Tensor> params, AdamOptions options = {});
    void step() override;
    std::vector<std::pair<std::string, Tensor*>> state() override;
    AdamOptions options;  ///< the hyperparameters (changing them between steps takes effect at the next)

protected:
    /// Adam, or with decoupled = true AdamW (its weight decay applied to p directly).
    Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled);

private:
    bool decoupled_;
    std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

/// AdamW (Loshchilov & Hutter) as torch.optim.AdamW: p <- p (1 - lr wd) before the Adam step;
/// PyTorch's default weight decay 0.01.
class AdamW : public Adam {
public:
    /// AdamOptions with PyTorch's AdamW default weight decay, 0.01.
    static AdamOptions defaults() {
        AdamOptions o;
        o.weight_decay = 0.01;
        return o;
    }
    /// AdamW over `params`, its options checked as Adam's.
    explicit AdamW(std::vector<Tensor> params, AdamOptions options = defaults());
};

/// SGD's hyperparameters, with PyTorch's defaults.
struct SgdOptions {
    /// step size, momentum, dampening of the momentum, weight decay
    ///@{
    double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
    ///@}
    bool nesterov = false;  ///< Nesterov momentum (needs momentum > 0 and dampening 0)
};

/// SGD as torch.optim.SGD: g <- g + wd p; buf <- g (first step) or momentum buf + (1 - dampening) g;
/// step = g + momentum buf (Nesterov) or buf; p <- p - lr step.
/// Checked: lr >= 0, momentum >= 0, weight_decay >= 0, dampening finite; Nesterov needs momentum > 0
/// and dampening = 0.
class SGD : public Optimizer {
public:
    /// SGD over `params`, its options checked as the class says.
    SGD(std::vector<Tensor> params, SgdOptions options = {});
    void step() override;
    std::vector<std::pair<std::string, Tensor*>> state() override;
    SgdOptions options;  ///< the hyperparameters (changing them between steps takes effect at the next)

private:
    std::vector<Tensor> momentum_;
};

/// Scales all gradients by max_norm / (norm + 1e-6) when their global L2 norm exceeds max_norm
/// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. max_norm must be finite and
/// > 0 (a negative one would flip the gradients' sign, NaN would skip clipping, 0 would zero them).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

/// Learning rate as a function of the step (0-based), applied with optimizer.set_lr(schedule(step)).
/// The factories check lr and min_lr (finite, >= 0), warmup_steps >= 0 and total_steps > 0; the
/// step asked for must be >= 0.
class LrSchedule {
public:
    /// lr at every step.
    static LrSchedule constant(double lr);
    /// Rises linearly from lr/warmup_steps to lr over warmup_steps, then stays at lr.
    static LrSchedule linear_warmup(double lr, int64_t warmup_steps);
    /// Linear warm-up (optional), then cosine decay from lr to min_lr at total_steps.
    static LrSchedule cosine(double lr, int64_t total_steps, int64_t warmup_steps = 0, double min_lr = 0.0);
    /// The learning rate at `step` (0-based, >= 0).
    double operator()(int64_t step) const;

private:
    enum class Kind { Constant, Warmup, Cosine } kind_ = Kind::Constant;
    double lr_ = 0, min_lr_ = 0;
    int64_t warmup_ = 0, total_ = 0;
};

}  // namespace tapegrad
