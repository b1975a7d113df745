/// \file
/// The tape: a Wengert list of the ops a forward pass ran, in the order they ran.
///
/// Each op that has at least one input requiring grad appends one Record: its name, the scope
/// it ran in, its inputs, its output and a backward function. backward(loss) walks the records
/// once, in reverse, handing each record the gradient of its output and letting it ACCUMULATE
/// (+=) the gradients of its inputs. There is no recursion, so a 10,000-step unrolled RNN is a
/// 10,000 x (ops per step) loop, not a 10,000-deep call stack.
///
/// Ops record onto the thread's active tape: a default tape per thread, or the tape a
/// TapeGuard installs. Several tapes may exist side by side; a tensor remembers which tape
/// recorded it and backward() runs on that one.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace tapegrad {

/// The gradients of a record's inputs, handed to its backward function. A backward function adds
/// dL/d(input i) one way, through this object, and never decides how: whether input i's gradient is
/// a fresh buffer to write or one that already holds the gradient of another use, to add to, and
/// whether a tensor is taken over or copied, are the engine's choices alone.
class InputGrads {
public:
    /// Whether input i requires grad; backward functions skip the inputs that do not.
    bool needed(size_t i) const;
    /// dL/d(input i) += g, where g holds input i's elements (input i's shape, or any shape with as
    /// many elements: the gradient of a view) or input i broadcast to a larger shape (its gradient is
    /// then g summed back over the broadcast dims: the one place broadcasting is undone). The first
    /// gradient to reach input i takes g's buffer itself when nothing else holds it; else it is
    /// copied or added.
    void add(size_t i, const Tensor& g);
    /// Where a kernel adds dL/d(input i) of input i's shape itself, without a tensor of its own:
    /// `grad` with `accumulate`, to add to (+=) the gradient already there, or without, a fresh
    /// uninitialised buffer the kernel writes whole (=). A kernel that adds to only a part of the
    /// gradient (a slice's window, a scatter) asks for Writes::Part: a fresh buffer comes zeroed.
    /// `grad` is undefined when input i needs no gradient.
    enum class Writes { All, Part };  ///< All: the kernel writes every element; Part: only some (a fresh buffer then comes zeroed)
    /// Input i's gradient buffer and whether to add to it (see out()).
    struct Out {
        Tensor& grad;  ///< input i's gradient (undefined when it needs none)
        bool accumulate;  ///< true: add (+=) to what grad holds; false: grad is fresh, write it (=)
    };
    /// The buffer a kernel writes dL/d(input i) into (see Out), allocated as `writes` says.
    Out out(size_t i, Writes writes = Writes::All);

private:
    friend class BackwardPass;
    void reset(const std::vector<Tensor>& inputs);
    const std::vector<Tensor>* inputs_ = nullptr;
    std::vector<Tensor> grads_;
    Tensor none_;  ///< out(i)'s grad for an input that needs none
};

/// backward(gy, gx): given dL/d(output) = gy, add dL/d(input i) for each input through gx.
using BackwardFn = std::function<void(const Tensor& grad_output, InputGrads& grad_inputs)>;

/// One entry of the tape: an op's name, formula and scope, its inputs and output, and its backward function.
struct Record {
    std::string op;     ///< "sigmoid"
    const char* formula;  ///< what backward adds to each input's gradient: "dL/dx += dL/dy ⊙ y ⊙ (1 − y)"
    std::string scope;  ///< the NameScope path it ran under, e.g. "lstm/t=3/forget_gate" ("" if none)
    std::vector<Tensor> inputs;  ///< the op's inputs, kept alive for backward
    Tensor output;  ///< the op's output
    BackwardFn backward;  ///< adds the inputs' gradients given the output's (BackwardFn)
};

/// A tape's records, shared by the Tape and the tensors it recorded (which hold it weakly).
struct TapeState {
    /// A deque: appending never moves earlier records (a vector's regrowth would copy them all).
    std::deque<Record> records;
    uint64_t epoch = 1;  ///< bumped on clear(): tensors of an earlier epoch are no longer on the tape
};

/// A Wengert list: the records of the ops run while it was active, in the order they ran.
class Tape {
public:
    /// An empty tape.
    Tape();
    const std::deque<Record>& records() const { return state_->records; }  ///< the records, in the order the ops ran
    size_t size() const { return state_->records.size(); }  ///< the number of records
    /// Drops every record; tensors recorded before are no longer on this tape.
    void clear();
    const std::shared_ptr<TapeState>& state() const { return state_; }  ///< the shared state (records and epoch) the recorded tensors point to

private:
    std::shared_ptr<TapeState> state_;
};

/// The tape ops record onto in this thread.
Tape& active_tape();

/// Makes `tape` the active tape for this thread until the guard dies.
class TapeGuard {
public:
    /// Makes `tape` the active tape of this thread.
    explicit TapeGuard(Tape& tape);
    ~TapeGuard();
    TapeGuard(const TapeGuard&) = delete;
    TapeGuard& operator=(const TapeGuard&) = delete;

private:
    Tape* previous_;
};

/// Disables recording in this thread until the guard dies (evaluation, optimizer updates).
class NoGrad {
public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    bool previous_;
};
/// Whether ops record in this thread (false inside a NoGrad).
bool grad_enabled();

/// Labels every op recorded while it lives: NameScope a("lstm"); NameScope b("t=3") -> "lstm/t=3".
class NameScope {
public:
    /// Appends `name` to this thread's scope path ("lstm" then "t=3": "lstm/t=3") until the guard dies.
    explicit NameScope(const std::string& name);
    ~NameScope();
    NameScope(const NameScope&) = delete;
    NameScope& operator=(const NameScope&) = delete;

private:
    size_t previous_length_;
};

/// Whether a record's `scope` lies under `prefix`, the filter of every inspection tool: it starts
/// with it ("lstm" covers "lstm/t=3/c"; "" covers every scope).
inline bool scope_has_prefix(const std::string& scope, const std::string& prefix) {
    return scope.compare(0, prefix.size(), prefix) == 0;
}

/// Runs op() inside NameScope(label) and returns what it returns:
///   Tensor c = in_scope("c", [&] { return forget_gate * c_prev + input_gate * candidate; });
template <typename Op>
auto in_scope(const std::string& label, Op op) {
    NameScope scope(label);
    return op();
}

/// Records an op on the active tape if grad is enabled and any input requires grad; marks
/// `output` as requiring grad and remembers where it was recorded. Called by every op, with the
/// gradient it adds as a formula, one term per input in input order ("dL/da += dL/dy ⊙ b;  dL/db
/// += dL/dy ⊙ a"; an op of any number of inputs writes one term for input i, "dL/dx_i += ..."):
/// the formula the step-through prints (autograd/stepper.h).
void record(const char* op, const char* formula, std::vector<Tensor> inputs, Tensor& output, BackwardFn backward);

/// How backward() runs: its seed, and what it keeps afterwards.
struct BackwardOptions {
    Tensor seed;             ///< dL/d(output); required when the output is not a scalar
    bool keep_tape = false;  ///< keep the records (to run backward again or inspect them)
    bool retain_grads = false;  ///< every record's output keeps its gradient, as if retain_grad() (tape printouts)
};

/// Computes d(output)/d(leaf) for every leaf that requires grad, accumulating into leaf.grad().
void backward(const Tensor& output, const BackwardOptions& options = {});

/// One backward pass, a record at a time. backward() runs it to the end in one call;
/// BackwardStepper (autograd/stepper.h) runs it step by step so a learner can watch it. Both go
/// through step(): there is one implementation of a backward step.
class BackwardPass {
public:
    /// Prepares the pass from `output`, seeded with options.seed (required unless output is a scalar).
    BackwardPass(const Tensor& output, const BackwardOptions& options);
    /// The record step() runs next: the highest-numbered one a gradient has reached, -1 when none is left.
    int64_t next() const { return next_; }
    /// Runs record next(): the hooks of its output, retain_grad, its backward function. Returns the
    /// dL/d(output) it was handed (after the hooks).
    Tensor step();
    /// After the last step: hands every leaf its gradient (after its hooks) and clears the tape
    /// unless keep_tape.
    void finish();
    const Record& record(int64_t r) const { return state_->records[r]; }  ///< record r of the tape being run
    /// The gradient accumulated so far for x, an input of some record (undefined if none reached it yet).
    Tensor in_flight(const Tensor& x) const;

private:
    Tensor& slot_of(const Tensor& x);

    std::shared_ptr<TapeState> state_;
    bool keep_tape_, retain_grads_;
    /// Gradients in flight: of record r's output in pending_[r], of leaves in leaf_grads_.
    std::vector<Tensor> pending_;
    std::unordered_map<TensorImpl*, std::pair<Tensor, Tensor>> leaf_grads_;  ///< leaf -> (leaf, grad)
    InputGrads grads_;  ///< reused by every step
    int64_t next_ = -1;
};

/// The record that produced `t` (throws if t is a leaf or its tape was cleared).
const Record& producer(const Tensor& t);

}  // namespace tapegrad
