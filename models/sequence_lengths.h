/// \file
/// The lengths of a padded batch: B sequences padded to T steps, as the recurrent layers and the
/// Transformer take them.
#pragma once
#include <cstdint>
#include <vector>

namespace tapegrad {

/// `lengths` (empty: every sequence has all T steps) checked against the batch: one per sequence,
/// each 1 <= lengths[b] <= T, and T >= 1 (an empty sequence has no output). Errors name `op`.
std::vector<int64_t> resolve_lengths(const char* op, int64_t batch, int64_t steps, const std::vector<int64_t>& lengths);

}  // namespace tapegrad
