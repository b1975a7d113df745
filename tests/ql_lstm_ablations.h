// The QL-LSTM ablations the suites run (docs/QL-LSTM.md): each turns one part of the model off
// or swaps it for another, with a block size that exercises the block skip.
#pragma once
#include <vector>

#include "models/ql_lstm.h"

namespace tapegrad::testing {

inline std::vector<QlLstmOptions> ql_lstm_ablations() {
    QlLstmOptions psug_only;
    psug_only.hgr = false;
    QlLstmOptions hgr_on_lstm;
    hgr_on_lstm.psug = false;
    hgr_on_lstm.block_size = 2;
    QlLstmOptions no_scales;
    no_scales.gate_scales = false;
    no_scales.block_size = 3;
    QlLstmOptions max_pool_gated;
    max_pool_gated.max_pool = true;
    max_pool_gated.gated_skip = true;
    max_pool_gated.block_recurrence = false;
    max_pool_gated.block_size = 2;
    return {psug_only, hgr_on_lstm, no_scales, max_pool_gated};
}

}  // namespace tapegrad::testing
