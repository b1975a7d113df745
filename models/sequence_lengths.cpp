#include "sequence_lengths.h"

#include "../core/error.h"

namespace tapegrad {

std::vector<int64_t> resolve_lengths(const char* op, int64_t batch, int64_t steps, const std::vector<int64_t>& lengths) {
    if (steps < 1) fail(op, "the sequences have T = {} steps (expected T >= 1: an empty sequence has no output)", steps);
    if (lengths.empty()) return std::vector<int64_t>(batch, steps);
    if (int64_t(lengths.size()) != batch) fail(op, "got {} lengths for a batch of {} sequences", lengths.size(), batch);
    for (size_t b = 0; b < lengths.size(); ++b)
        if (lengths[b] < 1 || lengths[b] > steps)
            fail(op, "length {} of sequence {} is out of range (expected 1 <= length <= T = {})", lengths[b], b, steps);
    return lengths;
}

}  // namespace tapegrad
