/// \file
/// Backward, one record at a time, for watching backprop happen.
///
///   BackwardStepper stepper(loss);
///   while (!stepper.done()) {
///       const BackwardStep& s = stepper.step();
///       std::cout << s.scope << " " << s.op << ": " << s.formula << "\n";   // "dL/dx += dL/dy ⊙ y ⊙ (1 − y)"
///   }
///   stepper.finish();                       // leaves get their .grad(), as after backward(loss)
///
/// It drives the same BackwardPass as backward(), so the gradients are identical, bit for bit.
/// The tape is kept (keep_tape) and each record's output keeps its gradient once its step has run
/// (retain_grads), so that the tape can be printed, with gradients, while stepping.
#pragma once
#include <string>
#include <vector>

#include "tape.h"

namespace tapegrad {

/// The inputs a record's formula names, in input order: the names after "dL/d" of its terms,
/// "dL/dx += dL/dW ...;  dL/dW += ...;  dL/db += ..." -> {"x", "W", "b"} (record(), autograd/tape.h).
/// An op of any number of inputs writes one term for input i ("dL/dx_i += ..." -> {"x_i"}).
std::vector<std::string> formula_inputs(const std::string& formula);

/// One step of BackwardStepper: the record it ran and the gradients it handled.
struct BackwardStep {
    int64_t index = -1;   ///< tape index of the record
    /// formula: the record's (record(), autograd/tape.h)
    ///@{
    std::string op, scope, formula;
    ///@}
    const Record* record = nullptr;  ///< the record itself (on the kept tape)
    Tensor grad_output;                ///< dL/d(output) the record received (after hooks)
    std::vector<Tensor> added;         ///< per input: what this step added to its gradient, float64 on the
                                       ///< CPU (undefined for inputs that need no grad)
    std::vector<Tensor> grad_inputs;   ///< per input: its accumulated gradient after the step (float64 CPU copy)
};

/// Runs backward one tape record at a time (see the file's description).
class BackwardStepper {
public:
    /// Prepares a backward pass from `output`, seeded with `seed` (required unless output is a scalar); runs nothing yet.
    explicit BackwardStepper(const Tensor& output, const Tensor& seed = Tensor());
    bool done() const { return pass_.next() < 0; }  ///< whether every record has run
    /// The tape index of the record the next step() runs (-1 when done).
    int64_t next() const { return pass_.next(); }
    /// Runs the next record and returns what it did.
    const BackwardStep& step();
    /// Steps until the next record to run is `index` or below (it is not run).
    void run_to(int64_t index);
    /// Steps until the next record to run lies in a scope starting with `scope_prefix`. If no
    /// record still to run has such a scope, throws (naming the nearest scope and those left) and
    /// runs nothing.
    void run_to(const std::string& scope_prefix);
    /// Runs the remaining records and hands the leaves their gradients.
    void finish();
    /// What the last step() did.
    const BackwardStep& last() const { return last_; }
    /// The pass being driven (its gradients so far).
    const BackwardPass& pass() const { return pass_; }

private:
    BackwardPass pass_;
    BackwardStep last_;
    bool finished_ = false;
};

}  // namespace tapegrad
