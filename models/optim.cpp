#include "optim.h"

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

Optimizer::Optimizer(std::vector<Tensor> params, double lr, std::string name)
    : params_(std::move(params)), name_(std::move(name)), lr_(lr) {
    if (params_.empty()) fail(name_, "optimizer got an empty parameter list");
    for (size_t i = 0; i < params_.size(); ++i)
        if (!params_[i].requires_grad())
            fail(name_, "parameter {} ({}) does not require grad", i, params_[i].describe());
    check_non_negative(name_, "lr", lr);
}

void Optimizer::set_lr(double lr) {
    check_non_negative(name_ + "::set_lr", "lr", lr);
    lr_ = lr;
}

void Optimizer::zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
}

std::vector<Tensor> Optimizer::zeros_like_params() const {
    std::vector<Tensor> out;
    for (const Tensor& p : params_) out.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    return out;
}

void Optimizer::follow_params(std::vector<Tensor>& state) const {
    for (size_t i = 0; i < params_.size(); ++i)
        if (state[i].device() != params_[i].device() || state[i].dtype() != params_[i].dtype())
            state[i] = tapegrad::to(tapegrad::to(state[i], params_[i].dtype()), params_[i].device()).detach();
}

Adam::Adam(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, false) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions opts, bool decoupled)
    : Optimizer(std::move(params), opts.lr, decoupled ? "AdamW" : "Adam"), options(opts), decoupled_(decoupled) {
    check_beta(name_, "beta1", options.beta1);
    check_beta(name_, "beta2", options.beta2);
    check_non_negative(name_, "eps", options.eps);
    check_non_negative(name_, "weight_decay", options.weight_decay);
    exp_avg_ = zeros_like_params();
    exp_avg_sq_ = zeros_like_params();
}

void Adam::step() {
    NoGrad no_grad;
    ++steps_;
    AdamHyper h;
    h.lr = lr_;
    h.beta1 = options.beta1;
    h.beta2 = options.beta2;
    h.eps = options.eps;
    h.weight_decay = options.weight_decay;
    h.decoupled = decoupled_;
    h.bias_correction1 = 1.0 - std::pow(options.beta1, double(steps_));
    h.bias_correction2 = 1.0 - std::pow(options.beta2, double(steps_));
    follow_params(exp_avg_);
    follow_params(exp_avg_sq_);
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor g = params_[i].grad();
        if (!g.defined()) continue;
        backend_for(params_[i].device()).adam_step(params_[i], g, exp_avg_[i], exp_avg_sq_[i], h);
    }
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
    follow_params(exp_avg_);
    follow_params(exp_avg_sq_);
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < params_.size(); ++i) {
        out.emplace_back("exp_avg." + std::to_string(i), &exp_avg_[i]);
        out.emplace_back("exp_avg_sq." + std::to_string(i), &exp_avg_sq_[i]);
    }
    return out;
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, true) {}

SGD::SGD(std::vector<Tensor> params, SgdOptions opts) : Optimizer(std::move(params), opts.lr, "SGD"), options(opts) {
    check_non_negative(name_, "momentum", options.momentum);
    check_non_negative(name_, "weight_decay", options.weight_decay);
    if (!std::isfinite(options.dampening))
        fail(name_, "dampening = {} is out of range (expected a finite dampening)", options.dampening);
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
        fail(name_, "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
             options.momentum, options.dampening);
    momentum_ = zeros_like_params();
}

void SGD::step() {
    NoGrad no_grad;
    SgdHyper h;
    h.lr = lr_;
    h.momentum = options.momentum;
    h.dampening = options.dampening;
    h.weight_decay = options.weight_decay;
    h.nesterov = options.nesterov;
    h.first_step = steps_ == 0;
    ++steps_;
    follow_params(momentum_);
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor g = params_[i].grad();
        if (!g.defined()) continue;
        backend_for(params_[i].device()).sgd_step(params_[i], g, momentum_[i], h);
    }
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {
    follow_params(momentum_);
    std::vector<std::pair<std::string, Tensor*>> out;
    for (size_t i = 0; i < params_.size(); ++i) out.emplace_back("momentum." + std::to_string(i), &momentum_[i]);
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

LrSchedule LrSchedule::constant(double lr) {
    check_non_negative("LrSchedule::constant", "lr", lr);
    LrSchedule s;
    s.lr_ = lr;
    return s;
}

LrSchedule LrSchedule::linear_warmup(double lr, int64_t warmup_steps) {
    check_non_negative("LrSchedule::linear_warmup", "lr", lr);
    check_steps("LrSchedule::linear_warmup", "warmup_steps", warmup_steps, 0);
    LrSchedule s;
    s.kind_ = Kind::Warmup;
    s.lr_ = lr;
    s.warmup_ = warmup_steps;
    return s;
}

LrSchedule LrSchedule::cosine(double lr, int64_t total_steps, int64_t warmup_steps, double min_lr) {
    const char* who = "LrSchedule::cosine";
    check_non_negative(who, "lr", lr);
    check_steps(who, "total_steps", total_steps, 1);
    check_steps(who, "warmup_steps", warmup_steps, 0);
    check_non_negative(who, "min_lr", min_lr);
    LrSchedule s;
    s.kind_ = Kind::Cosine;
    s.lr_ = lr;
    s.total_ = total_steps;
    s.warmup_ = warmup_steps;
    s.min_lr_ = min_lr;
    return s;
}

double LrSchedule::operator()(int64_t step) const {
    check_steps("LrSchedule", "step", step, 0);
    if (kind_ != Kind::Constant && step < warmup_) return lr_ * double(step + 1) / double(warmup_);
    if (kind_ != Kind::Cosine) return lr_;
    double progress = std::min(1.0, double(step - warmup_) / double(std::max<int64_t>(1, total_ - warmup_)));
    return min_lr_ + 0.5 * (lr_ - min_lr_) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace tapegrad
