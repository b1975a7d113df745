/// \file
/// The recurrent layers, one header for all: the cells RNN (models/rnn.h), LSTM (models/lstm.h) and
/// GRU (models/gru.h), stacked by Recurrent below; the bidirectional LSTM (models/bilstm.h). The
/// loop over time and the padding they share are in models/recurrent_cell.h, the two schedules
/// they run in (Reference, Fast) in models/schedule.h.
#pragma once
#include <memory>
#include <vector>

#include "../core/random.h"
#include "bilstm.h"
#include "gru.h"
#include "lstm.h"
#include "recurrent_cell.h"
#include "rnn.h"

namespace tapegrad {

/// The cell type of a Recurrent stack.
enum class CellType { RNN, LSTM, GRU };

/// A stack of num_layers cells of one type; layer l > 0 reads layer l-1's outputs.
/// Parameter names: "layers.<l>.weight_ih" etc.
class Recurrent : public Module {
public:
    /// num_layers cells of `type` with hidden_size each, layer 0 reading input_size features; forget_bias for LSTM cells (LstmCell).
    Recurrent(CellType type, int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen,
              double forget_bias = 0.0);
    /// initial: one state per layer, or empty for zeros.
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const std::vector<RecurrentState>& initial = {}) const;
    std::vector<std::unique_ptr<RecurrentCell>> layers;  ///< the cells, layer 0 first
    Schedule schedule = Schedule::Fast;  ///< models/schedule.h
};

}  // namespace tapegrad
