/// \file
/// Optimizers with PyTorch's update equations and defaults, parameter groups, gradient clipping,
/// and learning-rate schedulers. The per-element updates are the backend's fused kernels
/// (core/optimizer_math.h), so a step is one pass over each parameter on the CPU or the GPU.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../core/backend.h"
#include "../core/tensor.h"

namespace tapegrad {

/// A group of parameters with its own learning rate and weight decay: an entry of PyTorch's
/// param_groups. An unset option takes the optimizer's (the one it was made with). The other
/// options (betas, eps, momentum, ...) are the optimizer's, the same for every group.
struct ParamGroup {
    std::vector<Tensor> params;                       ///< the parameters the group's options apply to
    std::optional<double> lr = std::nullopt;          ///< the group's learning rate (unset: the optimizer's)
    std::optional<double> weight_decay = std::nullopt;  ///< the group's weight decay (unset: the optimizer's)
};

/// Arguments are checked as torch.optim checks them (and NaN or infinity is refused everywhere):
/// a non-empty parameter list, lr >= 0, weight_decay >= 0; each optimizer its own options (below).
/// A bad value throws tapegrad::Error naming the optimizer, the argument, its value and the range
/// expected.
class Optimizer {
public:
    /// One group of `params` with `lr` and `weight_decay`, which are also the defaults of the
    /// groups add_param_group adds. `name` ("Adam", "SGD" ...) starts the message of every error
    /// the optimizer raises.
    Optimizer(std::vector<Tensor> params, double lr, double weight_decay, std::string name);
    virtual ~Optimizer() = default;
    /// Updates every parameter that has a gradient (parameters without one are skipped).
    virtual void step() = 0;
    void zero_grad();  ///< drops every parameter's gradient
    const std::string& name() const { return name_; }  ///< "Adam", "SGD" ...: the start of its error messages
    /// Adds a group, as PyTorch's add_param_group: its unset options become the optimizer's
    /// defaults, its values are checked as the constructor's. Throws on a parameter that is already
    /// in a group, and after the first step (the step count, which Adam's bias correction and
    /// SGD's first momentum step use, is one for all groups: add every group before training).
    void add_param_group(ParamGroup group);
    /// The groups in order, every option set.
    const std::vector<ParamGroup>& param_groups() const { return groups_; }
    /// The learning rate of one group (the first by default).
    double lr(size_t group = 0) const;
    /// Sets the learning rate of every group (lr finite and >= 0).
    void set_lr(double lr);  ///< lr finite and >= 0
    /// Sets the learning rate of one group (what a scheduler does for each).
    void set_lr(size_t group, double lr);
    int64_t steps() const { return steps_; }  ///< steps taken so far (t of Adam's bias correction)
    void set_steps(int64_t steps) { steps_ = steps; }  ///< sets the steps taken (a resumed run restores it)
    /// Every group's parameters, in order: index i here is the i of the state's names.
    const std::vector<Tensor>& params() const { return params_; }  ///< the parameters it updates
    /// Named state tensors ("exp_avg.3" ...) for checkpoints: saved and restored in place.
    virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;

protected:
    /// Brings state[i] in line with parameter i: a zero tensor for a parameter added since, and
    /// moved to its device and dtype where the model was moved (Module::to) since: the state follows
    /// its parameter, values kept. Each step() and state() calls it.
    void follow_params(std::vector<Tensor>& state) const;
    /// Calls update(group, i) for each parameter i (index into params()) that has a gradient,
    /// `group` the one it belongs to.
    void for_each_param_with_grad(const std::function<void(const ParamGroup& group, size_t i)>& update) const;
    std::string name_;  ///< its name, in errors
    int64_t steps_ = 0;  ///< steps taken so far

private:
    /// add_param_group's work, its errors naming `who`.
    void add_group(const std::string& who, ParamGroup group);
    size_t checked_group(const std::string& who, size_t group) const;
    std::vector<ParamGroup> groups_;
    std::vector<Tensor> params_;  ///< the parameters it updates
    double default_lr_, default_weight_decay_;
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
    /// The options it was made with; the groups hold their own lr and weight_decay.
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
    /// The options it was made with; the groups hold their own lr and weight_decay.
    SgdOptions options;  ///< the hyperparameters (changing them between steps takes effect at the next)

private:
    std::vector<Tensor> momentum_;
};

/// Scales all gradients by max_norm / (norm + 1e-6) when their global L2 norm exceeds max_norm
/// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. max_norm must be finite and
/// > 0 (a negative one would flip the gradients' sign, NaN would skip clipping, 0 would zero them).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

/// The learning rate at step `step` (0-based) of a group whose base learning rate is `base_lr`.
using LrRule = std::function<double(double base_lr, int64_t step)>;

/// Sets the learning rate of each of an optimizer's groups by a rule of the step, as
/// torch.optim.lr_scheduler does: made after the optimizer, it takes each group's lr as that
/// group's base lr and sets the lr of step last_epoch + 1 (step 0 in a new run); each step(),
/// called after optimizer.step(), moves on one step. A run resumed after s steps makes it with
/// last_epoch = s - 1. The rule is a closed form of the step, so a resumed run gets the same lrs
/// as an uninterrupted one. The classes below are its rules, with PyTorch's names where PyTorch
/// has them; the optimizer must outlive the scheduler.
class LrScheduler {
public:
    /// `name` starts its errors; last_epoch >= -1.
    LrScheduler(Optimizer& optimizer, LrRule rule, int64_t last_epoch = -1, std::string name = "LrScheduler");
    virtual ~LrScheduler() = default;
    /// The next step: every group's lr = rule(its base lr, last_epoch + 1).
    void step();
    /// The step whose lrs are set now.
    int64_t last_epoch() const { return last_epoch_; }
    /// The groups' base lrs (their lrs when the scheduler was made).
    const std::vector<double>& base_lrs() const { return base_lrs_; }
    /// The lr the scheduler last set in each group (PyTorch's get_last_lr).
    std::vector<double> get_last_lr() const;

private:
    Optimizer& optimizer_;
    LrRule rule_;
    std::string name_;
    std::vector<double> base_lrs_;
    int64_t last_epoch_;
};

/// lr = base_lr * gamma^floor(step / step_size) (torch.optim.lr_scheduler.StepLR).
/// step_size >= 1, gamma finite and >= 0.
class StepLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1, int64_t last_epoch = -1);
};

/// lr = base_lr * (start_factor + (end_factor - start_factor) * min(step, total_iters) / total_iters):
/// the factor moves linearly from start_factor to end_factor over total_iters steps, then stays
/// (torch.optim.lr_scheduler.LinearLR; a warm-up with end_factor 1). 0 < start_factor <= 1,
/// 0 <= end_factor <= 1, total_iters >= 1.
class LinearLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5,
             int64_t last_epoch = -1);
};

/// lr = eta_min + (base_lr - eta_min) (1 + cos(pi step / T_max)) / 2: from base_lr down to eta_min
/// at step T_max, and up again after, as torch.optim.lr_scheduler.CosineAnnealingLR's closed form.
/// T_max >= 1, eta_min finite and >= 0.
class CosineAnnealingLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0, int64_t last_epoch = -1);
};

/// lr = base_lr * lr_lambda(step) (torch.optim.lr_scheduler.LambdaLR). A factor that makes the lr
/// negative or not finite throws (the optimizer's set_lr check).
class LambdaLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    LambdaLR(Optimizer& optimizer, std::function<double(int64_t step)> lr_lambda, int64_t last_epoch = -1);
};

/// tapegrad-train's --schedule warmup: lr = base_lr * (step + 1) / warmup_steps for the first
/// warmup_steps steps (from base_lr / warmup_steps up to base_lr), then base_lr. The values of
/// LinearLR(1 / warmup_steps, 1, warmup_steps - 1), written as the warm-up's own formula (that
/// tapegrad-train has always computed, so that its runs stay bit-identical). warmup_steps >= 0
/// (0: constant).
class WarmupLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    WarmupLR(Optimizer& optimizer, int64_t warmup_steps, int64_t last_epoch = -1);
};

/// tapegrad-train's --schedule cosine: WarmupLR's warm-up over warmup_steps, then a cosine from
/// base_lr down to min_lr at total_steps (CosineAnnealingLR's curve over total_steps -
/// warmup_steps steps), and min_lr after. total_steps >= 1, warmup_steps >= 0, min_lr finite and >= 0.
class WarmupCosineLR : public LrScheduler {
public:
    /// Schedules every group of `optimizer`, its lr at construction the base (last_epoch: the step last done, -1 for none).
    WarmupCosineLR(Optimizer& optimizer, int64_t total_steps, int64_t warmup_steps = 0, double min_lr = 0.0,
                   int64_t last_epoch = -1);
};

}  // namespace tapegrad
