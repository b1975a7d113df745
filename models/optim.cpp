#include "optim.h"

#include <algorithm>
#include <cmath>

#include "../autograd/tape.h"
#include "../ops/elementwise.h"
#include "../ops/reduce.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

namespace {
// torch.optim's rules, with NaN and infinity refused as well: `who` is the optimizer or function.
void check_non_negative(const std::string& who, const char* arg, double value) {
    if (!std::isfinite(value) || value < 0)
        fail(who, "{} = {} is out of range (expected finite {} >= 0)", arg, value, arg);
}

void check_beta(const std::string& who, const char* arg, double value) {
    if (!(value >= 0 && value < 1)) fail(who, "{} = {} is out of range (expected 0 <= {} < 1)", arg, value, arg);
}

void check_steps(const std::string& who, const char* arg, int64_t value, int64_t min) {
    if (value < min) fail(who, "{} = {} is out of range (expected {} >= {})", arg, value, arg, min);
}
}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr, double weight_decay, std::string name)
    : name_(std::move(name)), default_lr_(lr), default_weight_decay_(weight_decay) {
    if (params.empty()) fail(name_, "optimizer got an empty parameter list");
    add_group(name_, {std::move(params), lr, weight_decay});
}

void Optimizer::add_param_group(ParamGroup group) { add_group(name_ + "::add_param_group", std::move(group)); }

void Optimizer::add_group(const std::string& who, ParamGroup group) {
    if (steps_ > 0)
        fail(who, "cannot add a group after {} steps (the step count is shared by all groups: add every group "
             "before the first step)", steps_);
    if (!group.lr) group.lr = default_lr_;
    if (!group.weight_decay) group.weight_decay = default_weight_decay_;
    check_non_negative(who, "lr", *group.lr);
    check_non_negative(who, "weight_decay", *group.weight_decay);
    for (size_t i = 0; i < group.params.size(); ++i) {
        const Tensor& p = group.params[i];
        if (!p.requires_grad()) fail(who, "parameter {} ({}) does not require grad", i, p.describe());
        for (size_t g = 0; g < groups_.size(); ++g)
            for (const Tensor& other : groups_[g].params)
                if (p.same(other))
                    fail(who, "parameter {} ({}) is already in group {} (a parameter belongs to one group only)", i,
                         p.describe(), g);
    }
    params_.insert(params_.end(), group.params.begin(), group.params.end());
    groups_.push_back(std::move(group));
}

size_t Optimizer::checked_group(const std::string& who, size_t group) const {
    if (group >= groups_.size())
        fail(who, "group {} is out of range (the optimizer has {} groups: expected group < {})", group, groups_.size(),
             groups_.size());
    return group;
}

double Optimizer::lr(size_t group) const { return *groups_[checked_group(name_ + "::lr", group)].lr; }

void Optimizer::set_lr(double lr) {
    check_non_negative(name_ + "::set_lr", "lr", lr);
    for (ParamGroup& group : groups_) group.lr = lr;
}

void Optimizer::set_lr(size_t group, double lr) {
    const std::string who = name_ + "::set_lr";
    check_non_negative(who, "lr", lr);
    groups_[checked_group(who, group)].lr = lr;
}

void Optimizer::zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::for_each_param_with_grad(const std::function<void(const ParamGroup& group, size_t i)>& update) const {
    size_t i = 0;
    for (const ParamGroup& group : groups_)
        for (const Tensor& p : group.params) {
            if (p.grad().defined()) update(group, i);
            ++i;
        }
}

void Optimizer::follow_params(std::vector<Tensor>& state) const {
    for (size_t i = state.size(); i < params_.size(); ++i)
        state.push_back(Tensor::zeros(params_[i].shape(), params_[i].dtype(), params_[i].device()));
    for (size_t i = 0; i < params_.size(); ++i)
        if (state[i].device() != params_[i].device() || state[i].dtype() != params_[i].dtype())
            state[i] = tapegrad::to(tapegrad::to(state[i], params_[i].dtype()), params_[i].device()).detach();
}

Adam::Adam(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, false) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions opts, bool decoupled)
    : Optimizer(std::move(params), opts.lr, opts.weight_decay, decoupled ? "AdamW" : "Adam"), options(opts),
      decoupled_(decoupled) {
    check_beta(name_, "beta1", options.beta1);
    check_beta(name_, "beta2", options.beta2);
    check_non_negative(name_, "eps", options.eps);
}

void Adam::step() {
    NoGrad no_grad;
    ++steps_;
    AdamHyper h;
    h.beta1 = options.beta1;
    h.beta2 = options.beta2;
    h.eps = options.eps;
    h.decoupled = decoupled_;
    h.bias_correction1 = 1.0 - std::pow(options.beta1, double(steps_));
    h.bias_correction2 = 1.0 - std::pow(options.beta2, double(steps_));
    follow_params(exp_avg_);
    follow_params(exp_avg_sq_);
    for_each_param_with_grad([&](const ParamGroup& group, size_t i) {
        h.lr = *group.lr;
        h.weight_decay = *group.weight_decay;
        Tensor p = params()[i];  // a handle: the kernel writes p's storage in place
        backend_for(p.device()).adam_step(p, p.grad(), exp_avg_[i], exp_avg_sq_[i], h);
    });
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
    follow_params(exp_avg_);
    follow_params(exp_avg_sq_);
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < params().size(); ++i) {
        out.emplace_back("exp_avg." + std::to_string(i), &exp_avg_[i]);
        out.emplace_back("exp_avg_sq." + std::to_string(i), &exp_avg_sq_[i]);
    }
    return out;
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, true) {}

SGD::SGD(std::vector<Tensor> params, SgdOptions opts)
    : Optimizer(std::move(params), opts.lr, opts.weight_decay, "SGD"), options(opts) {
    check_non_negative(name_, "momentum", options.momentum);
    if (!std::isfinite(options.dampening))
        fail(name_, "dampening = {} is out of range (expected a finite dampening)", options.dampening);
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
        fail(name_, "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
             options.momentum, options.dampening);
}

void SGD::step() {
    NoGrad no_grad;
    SgdHyper h;
    h.momentum = options.momentum;
    h.dampening = options.dampening;
    h.nesterov = options.nesterov;
    h.first_step = steps_ == 0;
    ++steps_;
    follow_params(momentum_);
    for_each_param_with_grad([&](const ParamGroup& group, size_t i) {
        h.lr = *group.lr;
        h.weight_decay = *group.weight_decay;
        Tensor p = params()[i];  // a handle: the kernel writes p's storage in place
        backend_for(p.device()).sgd_step(p, p.grad(), momentum_[i], h);
    });
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {
    follow_params(momentum_);
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < params().size(); ++i) out.emplace_back("momentum." + std::to_string(i), &momentum_[i]);
    return out;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
    if (!std::isfinite(max_norm) || max_norm <= 0)
        fail("clip_grad_norm", "max_norm = {} is out of range (expected finite max_norm > 0)", max_norm);
    NoGrad no_grad;
    double total = 0;
    for (const Tensor& p : params) {
        Tensor g = p.grad();
        if (g.defined()) total += sum(g * g).item();
    }
    double norm = std::sqrt(total);
    if (norm > max_norm) {
        double scale = max_norm / (norm + 1e-6);
        for (const Tensor& p : params) {
            Tensor g = p.grad();
            if (g.defined()) backend_for(g.device()).unary(unary_op<rules::MulScalar>, scale, g, g);  // in place
        }
    }
    return norm;
}

LrScheduler::LrScheduler(Optimizer& optimizer, LrRule rule, int64_t last_epoch, std::string name)
    : optimizer_(optimizer), rule_(std::move(rule)), name_(std::move(name)), last_epoch_(last_epoch) {
    if (!rule_) fail(name_, "got an empty rule (expected a function of the base lr and the step)");
    check_steps(name_, "last_epoch", last_epoch, -1);
    for (const ParamGroup& group : optimizer_.param_groups()) base_lrs_.push_back(*group.lr);
    step();
}

void LrScheduler::step() {
    ++last_epoch_;
    for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, rule_(base_lrs_[g], last_epoch_));
}

std::vector<double> LrScheduler::get_last_lr() const {
    std::vector<double> out;
    for (size_t g = 0; g < base_lrs_.size(); ++g) out.push_back(optimizer_.lr(g));
    return out;
}

// Each scheduler's rule, its arguments checked before the scheduler sets the first lr.
namespace {
void check_factor(const char* who, const char* arg, double value, double low, bool low_included) {
    if (!(value <= 1 && (low_included ? value >= low : value > low)))
        fail(who, "{} = {} is out of range (expected {} {} {} <= 1)", arg, value, low, low_included ? "<=" : "<", arg);
}

// The warm-up of WarmupLR and WarmupCosineLR, for step < warmup_steps: base_lr (step + 1) / warmup_steps.
double warmup_lr(double base_lr, int64_t step, int64_t warmup_steps) {
    return base_lr * double(step + 1) / double(warmup_steps);
}

// The cosine of CosineAnnealingLR and WarmupCosineLR: from base_lr at progress 0 to min_lr at 1.
double cosine_lr(double base_lr, double min_lr, double progress) {
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

LrRule step_rule(int64_t step_size, double gamma) {
    check_steps("StepLR", "step_size", step_size, 1);
    check_non_negative("StepLR", "gamma", gamma);
    return [=](double base_lr, int64_t step) { return base_lr * std::pow(gamma, double(step / step_size)); };
}

LrRule linear_rule(double start_factor, double end_factor, int64_t total_iters) {
    check_factor("LinearLR", "start_factor", start_factor, 0, false);
    check_factor("LinearLR", "end_factor", end_factor, 0, true);
    check_steps("LinearLR", "total_iters", total_iters, 1);
    return [=](double base_lr, int64_t step) {
        return base_lr * (start_factor + (end_factor - start_factor) * double(std::min(step, total_iters)) / double(total_iters));
    };
}

LrRule cosine_annealing_rule(int64_t T_max, double eta_min) {
    check_steps("CosineAnnealingLR", "T_max", T_max, 1);
    check_non_negative("CosineAnnealingLR", "eta_min", eta_min);
    return [=](double base_lr, int64_t step) { return cosine_lr(base_lr, eta_min, double(step) / double(T_max)); };
}

LrRule lambda_rule(std::function<double(int64_t)> lr_lambda) {
    if (!lr_lambda) fail("LambdaLR", "lr_lambda is empty (expected a function of the step)");
    return [lr_lambda](double base_lr, int64_t step) { return base_lr * lr_lambda(step); };
}

LrRule warmup_rule(int64_t warmup_steps) {
    check_steps("WarmupLR", "warmup_steps", warmup_steps, 0);
    return [=](double base_lr, int64_t step) { return step < warmup_steps ? warmup_lr(base_lr, step, warmup_steps) : base_lr; };
}

LrRule warmup_cosine_rule(int64_t total_steps, int64_t warmup_steps, double min_lr) {
    const char* who = "WarmupCosineLR";
    check_steps(who, "total_steps", total_steps, 1);
    check_steps(who, "warmup_steps", warmup_steps, 0);
    check_non_negative(who, "min_lr", min_lr);
    return [=](double base_lr, int64_t step) {
        if (step < warmup_steps) return warmup_lr(base_lr, step, warmup_steps);
        const double decay_steps = double(std::max<int64_t>(1, total_steps - warmup_steps));
        return cosine_lr(base_lr, min_lr, std::min(1.0, double(step - warmup_steps) / decay_steps));
    };
}
}  // namespace

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma, int64_t last_epoch)
    : LrScheduler(optimizer, step_rule(step_size, gamma), last_epoch, "StepLR") {}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters, int64_t last_epoch)
    : LrScheduler(optimizer, linear_rule(start_factor, end_factor, total_iters), last_epoch, "LinearLR") {}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min, int64_t last_epoch)
    : LrScheduler(optimizer, cosine_annealing_rule(T_max, eta_min), last_epoch, "CosineAnnealingLR") {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t step)> lr_lambda, int64_t last_epoch)
    : LrScheduler(optimizer, lambda_rule(std::move(lr_lambda)), last_epoch, "LambdaLR") {}

WarmupLR::WarmupLR(Optimizer& optimizer, int64_t warmup_steps, int64_t last_epoch)
    : LrScheduler(optimizer, warmup_rule(warmup_steps), last_epoch, "WarmupLR") {}

WarmupCosineLR::WarmupCosineLR(Optimizer& optimizer, int64_t total_steps, int64_t warmup_steps, double min_lr,
                               int64_t last_epoch)
    : LrScheduler(optimizer, warmup_cosine_rule(total_steps, warmup_steps, min_lr), last_epoch, "WarmupCosineLR") {}

}  // namespace tapegrad
