// The tape: a Wengert list of the ops a forward pass ran, in the order they ran.
//
// Each op that has at least one input requiring grad appends one Record: its name, the scope
// it ran in, its inputs, its output and a backward function. backward(loss) walks the records
// once, in reverse, handing each record the gradient of its output and letting it ACCUMULATE
// (+=) the gradients of its inputs. There is no recursion, so a 10,000-step unrolled RNN is a
// 10,000 x (ops per step) loop, not a 10,000-deep call stack.
//
// Ops record onto the thread's active tape: a default tape per thread, or the tape a
// TapeGuard installs. Several tapes may exist side by side; a tensor remembers which tape
// recorded it and backward() runs on that one.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tapegrad {

// The gradients of a record's inputs, handed to its backward function. at(i) is the buffer to
// accumulate into (allocated as zeros on first use), or an undefined Tensor if input i does
// not require grad: backward functions skip those.
class InputGrads {
public:
    InputGrads() = default;
    explicit InputGrads(const std::vector<Tensor>& inputs);
    // Re-targets this object at another record's inputs (backward reuses one InputGrads).
    void reset(const std::vector<Tensor>& inputs);
    bool needed(size_t i) const;
    Tensor& at(size_t i);
    // The buffer for input i and whether to ADD into it: true when a gradient already arrived
    // there; false for the first one, in a fresh UNINITIALISED buffer that the backward function
    // must write whole (kernels with an `accumulate` flag; a zero fill is saved).
    struct Target {
        Tensor& grad;
        bool accumulate;
    };
    Target target(size_t i);
    size_t size() const { return grads_.size(); }
    std::vector<Tensor>& all() { return grads_; }

private:
    const std::vector<Tensor>* inputs_ = nullptr;
    std::vector<Tensor> grads_;
};

// backward(gy, gx): given dL/d(output) = gy, accumulate dL/d(input i) into gx.at(i).
using BackwardFn = std::function<void(const Tensor& grad_output, InputGrads& grad_inputs)>;

struct Record {
    std::string op;     // "sigmoid"
    std::string scope;  // the NameScope path it ran under, e.g. "lstm/t=3/forget_gate" ("" if none)
    std::vector<Tensor> inputs;
    Tensor output;
    BackwardFn backward;
};

struct TapeState {
    // A deque: appending never moves earlier records (a vector's regrowth would copy them all).
    std::deque<Record> records;
    uint64_t epoch = 1;  // bumped on clear(): tensors of an earlier epoch are no longer on the tape
};

class Tape {
public:
    Tape();
    const std::deque<Record>& records() const { return state_->records; }
    size_t size() const { return state_->records.size(); }
    void clear();
    const std::shared_ptr<TapeState>& state() const { return state_; }

private:
    std::shared_ptr<TapeState> state_;
};

// The tape ops record onto in this thread.
Tape& active_tape();

// Makes `tape` the active tape for this thread until the guard dies.
class TapeGuard {
public:
    explicit TapeGuard(Tape& tape);
    ~TapeGuard();
    TapeGuard(const TapeGuard&) = delete;
    TapeGuard& operator=(const TapeGuard&) = delete;

private:
    Tape* previous_;
};

// Disables recording in this thread until the guard dies (evaluation, optimizer updates).
class NoGrad {
public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    bool previous_;
};
bool grad_enabled();

// Labels every op recorded while it lives: NameScope a("lstm"); NameScope b("t=3") -> "lstm/t=3".
class NameScope {
public:
    explicit NameScope(const std::string& name);
    ~NameScope();
    NameScope(const NameScope&) = delete;
    NameScope& operator=(const NameScope&) = delete;

private:
    size_t previous_length_;
};
const std::string& current_scope();

// Runs op() inside NameScope(label) and returns what it returns:
//   Tensor c = in_scope("c", [&] { return forget_gate * c_prev + input_gate * candidate; });
template <typename Op>
auto in_scope(const std::string& label, Op op) {
    NameScope scope(label);
    return op();
}

// Records an op on the active tape if grad is enabled and any input requires grad; marks
// `output` as requiring grad and remembers where it was recorded. Called by every op.
void record(const char* op, std::vector<Tensor> inputs, Tensor& output, BackwardFn backward);

struct BackwardOptions {
    Tensor seed;             // dL/d(output); required when the output is not a scalar
    bool keep_tape = false;  // keep the records (to run backward again or inspect them)
    bool retain_grads = false;  // every record's output keeps its gradient, as if retain_grad() (tape printouts)
};

// Computes d(output)/d(leaf) for every leaf that requires grad, accumulating into leaf.grad().
void backward(const Tensor& output, const BackwardOptions& options = {});

// One backward pass, a record at a time. backward() runs it to the end in one call;
// BackwardStepper (autograd/stepper.h) runs it step by step so a learner can watch it. Both go
// through step(): there is one implementation of a backward step.
class BackwardPass {
public:
    BackwardPass(const Tensor& output, const BackwardOptions& options);
    // The record step() runs next: the highest-numbered one a gradient has reached, -1 when none is left.
    int64_t next() const { return next_; }
    // Runs record next(): the hooks of its output, retain_grad, its backward function. Returns the
    // dL/d(output) it was handed (after the hooks).
    Tensor step();
    // After the last step: hands every leaf its gradient (after its hooks) and clears the tape
    // unless keep_tape.
    void finish();
    const Record& record(int64_t r) const { return state_->records[r]; }
    // The gradient accumulated so far for x, an input of some record (undefined if none reached it yet).
    Tensor in_flight(const Tensor& x) const;

private:
    Tensor& slot_of(const Tensor& x);

    std::shared_ptr<TapeState> state_;
    bool keep_tape_, retain_grads_;
    // Gradients in flight: of record r's output in pending_[r], of leaves in leaf_grads_.
    std::vector<Tensor> pending_;
    std::unordered_map<TensorImpl*, std::pair<Tensor, Tensor>> leaf_grads_;  // leaf -> (leaf, grad)
    InputGrads grads_;  // reused by every step
    int64_t next_ = -1;
};

// The record that produced `t` (throws if t is a leaf or its tape was cleared).
const Record& producer(const Tensor& t);

}  // namespace tapegrad
