/// \file
/// The parameter counts of the recurrent baselines and every QL-LSTM variant at one input size D
/// and hidden size H, each counted on a constructed layer (num_parameters) beside its formula, with
/// the reduction relative to the LSTM. Printed by bench/bench_cells and examples/cells.
#pragma once
#include <cstdint>
#include <string>

namespace tapegrad {

/// The table of the file's description for input size `input_size` and hidden size `hidden_size`.
std::string recurrent_parameter_table(int64_t input_size, int64_t hidden_size);

}  // namespace tapegrad
