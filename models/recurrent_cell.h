/// \file
/// What every recurrent cell shares: its state, the interface of one layer in both schedules
/// (models/schedule.h), and the loop over time with its padding (run_recurrent).
///
/// Inputs are batch-first, x [B, T, D], with optional per-sequence lengths (a padded batch):
/// sequence b has real steps 0 .. lengths[b]-1. At a padded step the state is carried unchanged
///   h_t = h_{t-1} + m_t (h_new - h_{t-1}),   m_t[b] = 1 if t < lengths[b] else 0
/// and the output there is zero, so padding never changes real positions' outputs or gradients, and
/// the final state is each sequence's state at its last real token.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/random.h"
#include "module.h"
#include "recurrent_linear.h"
#include "schedule.h"
#include "sequence_lengths.h"

namespace tapegrad {

/// The state a recurrent cell carries from one step to the next.
struct RecurrentState {
    Tensor h;  ///< [B, H]
    Tensor c;  ///< [B, H] for LSTM-type cells, undefined otherwise
    /// QL-LSTM's blocks only (models/ql_lstm.h): the last block summary s_{k-1} [B, H], and the h
    /// [B, H] and mask m_t [B, 1] of each step of the block under way.
    /// Initialised here so that {h, c} initialises a state.
    Tensor summary{};
    /// (see summary)
    ///@{
    std::vector<Tensor> block_h{}, block_mask{};
    ///@}
};

/// What a recurrent layer returns: its outputs at every step and its final states.
struct RecurrentOutput {
    Tensor output;                     ///< [B, T, H] (or [B, T, 2H] for BiLSTM); zero at padded steps
    std::vector<RecurrentState> last;  ///< final state of each layer, at each sequence's last real token
};

/// What the loop knows at step t besides the input: for cells whose equations look past one step
/// (QL-LSTM's blocks end at multiples of K and at each sequence's last real step).
struct StepContext {
    int64_t t;  ///< the step, 0-based
    const std::vector<int64_t>& lengths;  ///< each sequence's real steps
    Tensor mask;                          ///< m_t [B, 1]; undefined when no sequence is padded
};

/// The fast schedule's work for all steps at once, done before the loop (RecurrentCell::hoist).
struct Hoisted {
    Tensor projected;           ///< A [T, B, G]: the input projection of every step, one GEMM
    RecurrentLinear recurrent;  ///< z_t = A_t + b + h_{t-1} W_hh^T, one step after the other
    /// QL-LSTM with PSUG: a and b of its gates i, f, o, stacked [3, 1, H]
    ///@{
    Tensor scales{}, biases{};
    ///@}
};

/// One layer: what differs between RNN, LSTM, GRU and QL-LSTM, in each schedule.
class RecurrentCell : public Module {
public:
    /// `name` is the derived cell's, for errors in its sizes ("LstmCell: hidden_size = 0 ...").
    RecurrentCell(const char* name, int64_t input_size, int64_t hidden_size)
        : input_size(checked_size(name, "input_size", input_size)), hidden_size(checked_size(name, "hidden_size", hidden_size)) {}
    /// Whether the cell carries a cell state c besides h (LSTM-type cells).
    virtual bool has_cell_state() const { return false; }

    /// Reference: step t of the cell's equations, from its input x_t [B, D] and the previous state.
    virtual RecurrentState step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const = 0;

    /// Fast: what does not depend on h, for all steps, from the time-major input x [T, B, D]: the
    /// input projection A = x W_ih^T (x is turned time-major first, so that each step's block A_t is a
    /// contiguous view) and the recurrent product (RecurrentLinear)...
    virtual Hoisted hoist(const Tensor& x) const = 0;
    /// ... and then step t, z_t = hoisted.recurrent.step(h_{t-1}) and the cell's gate math.
    virtual RecurrentState fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const = 0;

    /// D and H, as constructed
    ///@{
    const int64_t input_size, hidden_size;
    ///@}
};

/// Runs one cell over a sequence x [B, T, D] (the loop, masking and state handling shared by every
/// cell); lengths empty = every sequence has T steps; initial: undefined h (and c) start at zero.
RecurrentOutput run_recurrent(const RecurrentCell& cell, const Tensor& x, const std::vector<int64_t>& lengths,
                              const RecurrentState& initial, Schedule schedule = Schedule::Fast);

/// Step t of a time-major [T, B, G] tensor: [B, G], a view.
Tensor time_step(const Tensor& x, int64_t t);
/// values as a column [B, 1] in like's dtype and on its device (masks for padded batches).
Tensor column_mask(const std::vector<double>& values, const Tensor& like);
/// The mask m [B, 1] of step t (1 where t < lengths[b]), in x's dtype and device.
Tensor step_mask(const std::vector<int64_t>& lengths, int64_t t, const Tensor& like);
/// Checks lengths against x [B, T, D] (models/sequence_lengths.h) and returns them.
std::vector<int64_t> resolve_lengths(const char* op, const Tensor& x, const std::vector<int64_t>& lengths);
/// PyTorch's recurrent init: a weight or bias of a cell with hidden size H, uniform in ±1/sqrt(H).
Tensor recurrent_init(const Shape& shape, int64_t hidden_size, Generator& gen);
/// Returns `state` with h and c detached (truncated backpropagation through time).
RecurrentState detach(const RecurrentState& state);

}  // namespace tapegrad
