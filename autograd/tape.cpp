#include "tape.h"

#include <unordered_map>

#include "anomaly.h"
#include "../core/backend.h"
#include "../core/layout.h"

namespace tapegrad {

// ---- thread state: active tape, grad mode, name scope ---------------------------------------

namespace {
thread_local Tape* active_tape_ptr = nullptr;
thread_local bool grad_mode = true;
thread_local std::string scope_path;
}  // namespace

Tape::Tape() : state_(std::make_shared<TapeState>()) {}

void Tape::clear() {
    state_->records.clear();
    ++state_->epoch;
}

Tape& active_tape() {
    thread_local Tape default_tape;
    return active_tape_ptr ? *active_tape_ptr : default_tape;
}

TapeGuard::TapeGuard(Tape& tape) : previous_(active_tape_ptr) { active_tape_ptr = &tape; }
TapeGuard::~TapeGuard() { active_tape_ptr = previous_; }

NoGrad::NoGrad() : previous_(grad_mode) { grad_mode = false; }
NoGrad::~NoGrad() { grad_mode = previous_; }
bool grad_enabled() { return grad_mode; }

NameScope::NameScope(const std::string& name) : previous_length_(scope_path.size()) {
    scope_path += (scope_path.empty() ? "" : "/") + name;
}
NameScope::~NameScope() { scope_path.resize(previous_length_); }

// ---- recording -------------------------------------------------------------------------------

namespace {
// The tape state a non-leaf tensor was recorded on, or null if that tape was cleared or destroyed.
std::shared_ptr<TapeState> live_tape_of(const Tensor& t) {
    auto state = t.impl().tape.lock();
    if (!state || t.impl().tape_epoch != state->epoch) return nullptr;
    return state;
}
}  // namespace

void record(const char* op, const char* formula, std::vector<Tensor> inputs, Tensor& output, BackwardFn backward) {
    bool any_requires_grad = false;
    for (const Tensor& x : inputs) any_requires_grad |= x.requires_grad();
    const bool recording = grad_mode && any_requires_grad;
    if (anomaly_detection_enabled())
        check_forward_anomaly(op, scope_path, recording ? int64_t(active_tape().size()) : -1, output);
    if (!recording) return;

    const std::shared_ptr<TapeState>& state = active_tape().state();
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.requires_grad() || x.is_leaf()) continue;
        auto source = live_tape_of(x);
        if (!source)
            fail(op, "input {} ({}) was recorded on a tape that has since been cleared (by backward()); "
                 "call detach() on tensors carried over from an earlier step", i, x.describe());
        if (source != state)
            fail(op, "input {} ({}) was recorded on a different tape than the active one; ops cannot mix "
                 "tapes (use detach() or a single TapeGuard)", i, x.describe());
    }
    TensorImpl& out = output.impl();
    out.requires_grad = true;
    out.tape = state;
    out.tape_epoch = state->epoch;
    out.record = int64_t(state->records.size());
    state->records.push_back(Record{op, formula, scope_path, std::move(inputs), output, std::move(backward)});
}

const Record& producer(const Tensor& t) {
    if (t.is_leaf()) fail("producer", "tensor {} is a leaf: no op produced it", t.describe());
    auto state = live_tape_of(t);
    if (!state) fail("producer", "the tape that recorded tensor {} was cleared", t.describe());
    return state->records[t.impl().record];
}

// ---- backward --------------------------------------------------------------------------------

namespace {
Tensor clone(const Tensor& t) {
    Tensor copy = Tensor::empty(t.shape(), t.dtype(), t.device());
    backend_for(t.device()).copy_within(copy.raw_data(), t.raw_data(), t.numel() * dtype_size(t.dtype()));
    return copy;
}

// acc += g, elementwise, same shape, dtype and device (the add kernel, in place).
void add_into(Tensor& acc, const Tensor& g) {
    BroadcastPlan plan = broadcast_plan(acc.shape(), acc.shape(), acc.shape());
    backend_for(acc.device()).binary(binary_op<rules::Add>, plan, acc, alias_with_shape(g, acc.shape()), acc);
}

// Nothing but `t` holds its buffer: a gradient handed over can become an input's own.
bool sole_owner(const Tensor& t) { return t.impl_ptr().use_count() == 1 && t.impl().storage.use_count() == 1; }
}  // namespace

void InputGrads::reset(const std::vector<Tensor>& inputs) {
    inputs_ = &inputs;
    grads_.assign(inputs.size(), Tensor());
}

bool InputGrads::needed(size_t i) const { return (*inputs_)[i].requires_grad(); }

void InputGrads::add(size_t i, const Tensor& g) {
    const Tensor& x = (*inputs_)[i];
    if (!x.requires_grad()) return;
    Tensor& slot = grads_[i];
    if (g.numel() == x.numel()) {  // x's elements, in x's shape or a view's
        if (slot.defined()) add_into(slot, g);
        else slot = sole_owner(g) ? alias_with_shape(g, x.shape()) : alias_with_shape(clone(g), x.shape());
        return;
    }
    // g is x broadcast to g's shape: x's gradient is g summed over the dims x was repeated along.
    if (!slot.defined()) slot = Tensor::zeros(x.shape(), x.dtype(), x.device());
    Tensor view = alias_with_shape(slot, padded_to(x.shape(), g.dim()));
    backend_for(g.device()).sum_to(g, view, 1.0);
}

InputGrads::Out InputGrads::out(size_t i, Writes writes) {
    const Tensor& x = (*inputs_)[i];
    if (!x.requires_grad()) return {none_, false};
    if (grads_[i].defined()) return {grads_[i], true};
    if (writes == Writes::Part) {
        grads_[i] = Tensor::zeros(x.shape(), x.dtype(), x.device());
        return {grads_[i], true};
    }
    grads_[i] = Tensor::empty(x.shape(), x.dtype(), x.device());
    return {grads_[i], false};
}

namespace {
// acc += g (same shape, dtype and device). If acc is empty it takes g itself when `g_is_ours`
// (a buffer backward allocated and nobody else holds), else a copy of g.
void accumulate(std::shared_ptr<TensorImpl>& acc, const Tensor& g, bool g_is_ours) {
    if (!acc) {
        acc = g_is_ours ? g.detach().impl_ptr() : clone(g).impl_ptr();
        return;
    }
    Tensor target(acc);
    add_into(target, g);
}

Tensor run_hooks(const Tensor& t, Tensor grad) {
    for (const GradHook& hook : t.impl().hooks) {
        Tensor replaced = hook(grad);
        if (!replaced.defined() || replaced.shape() != grad.shape() || replaced.dtype() != grad.dtype() ||
            replaced.device() != grad.device())
            fail("hook", "a gradient hook on tensor {} returned {} (expected a gradient of the same shape, dtype "
                 "and device)", t.describe(), replaced.defined() ? replaced.describe() : "an undefined tensor");
        grad = replaced;
    }
    return grad;
}
}  // namespace

BackwardPass::BackwardPass(const Tensor& output, const BackwardOptions& options)
    : keep_tape_(options.keep_tape), retain_grads_(options.retain_grads) {
    if (!output.requires_grad())
        fail("backward", "tensor {} does not require grad (no input of the ops that produced it requires grad)",
             output.describe());
    Tensor seed = options.seed;
    if (!seed.defined()) {
        if (output.numel() != 1)
            fail("backward", "output {} is not a scalar; pass BackwardOptions::seed with dL/d(output) of the same "
                 "shape", output.describe());
        seed = Tensor::ones(output.shape(), output.dtype(), output.device());
    } else if (seed.shape() != output.shape() || seed.dtype() != output.dtype() ||
               seed.device() != output.device()) {
        fail("backward", "seed gradient {} does not match output {}", seed.describe(), output.describe());
    }
    if (output.is_leaf()) {
        leaf_grads_[&output.impl()] = {output, clone(seed)};
        return;
    }
    state_ = live_tape_of(output);
    if (!state_)
        fail("backward", "the tape that recorded {} has been cleared, by an earlier backward(); pass "
             "BackwardOptions{{.keep_tape = true}} to the first call to run backward twice", output.describe());
    next_ = output.impl().record;
    pending_.resize(next_ + 1);
    pending_[next_] = seed;
}

Tensor& BackwardPass::slot_of(const Tensor& x) {
    if (!x.is_leaf()) return pending_[x.impl().record];
    auto& entry = leaf_grads_[&x.impl()];
    entry.first = x;
    return entry.second;
}

Tensor BackwardPass::in_flight(const Tensor& x) const {
    if (!x.is_leaf()) return x.impl().record < int64_t(pending_.size()) ? pending_[x.impl().record] : Tensor();
    auto it = leaf_grads_.find(&x.impl());
    return it == leaf_grads_.end() ? Tensor() : it->second.second;
}

Tensor BackwardPass::step() {
    if (next_ < 0) fail("backward", "step() called after the last record; call finish()");
    // Nothing below records: hooks may compute with tensors without growing the tape mid-walk.
    NoGrad no_grad;
    const int64_t r = next_;
    Record& rec = state_->records[r];
    Tensor grad_output = run_hooks(rec.output, pending_[r]);
    pending_[r] = Tensor();
    if (rec.output.impl().retains_grad || retain_grads_) accumulate(rec.output.impl().grad, grad_output, false);

    // Hand the backward function the in-flight buffer of each input, so that several uses of one
    // tensor sum into one gradient.
    grads_.reset(rec.inputs);
    for (size_t i = 0; i < rec.inputs.size(); ++i)
        if (rec.inputs[i].requires_grad()) grads_.grads_[i] = slot_of(rec.inputs[i]);
    rec.backward(grad_output, grads_);
    for (size_t i = 0; i < rec.inputs.size(); ++i) {
        const Tensor& g = grads_.grads_[i];
        if (!g.defined()) continue;
        Tensor& slot = slot_of(rec.inputs[i]);
        if (!slot.defined()) slot = g;  // first gradient to reach this tensor
        else if (!slot.same(g)) add_into(slot, g);  // input used twice by this op
        if (anomaly_detection_enabled()) check_backward_anomaly(rec, r, i, slot);
    }
    do --next_;
    while (next_ >= 0 && !pending_[next_].defined());  // skip records with no path to the output
    return grad_output;
}

void BackwardPass::finish() {
    if (next_ >= 0) fail("backward", "finish() called with record {} still to run", next_);
    NoGrad no_grad;
    for (auto& [impl, entry] : leaf_grads_)
        if (entry.second.defined()) {
            Tensor grad = run_hooks(entry.first, entry.second);
            accumulate(impl->grad, grad, grad.same(entry.second));
        }
    leaf_grads_.clear();
    if (state_ && !keep_tape_) {
        state_->records.clear();
        ++state_->epoch;
    }
}

void backward(const Tensor& output, const BackwardOptions& options) {
    BackwardPass pass(output, options);
    while (pass.next() >= 0) pass.step();
    pass.finish();
}

}  // namespace tapegrad
