/// \file
/// Discrete random draws for the data pipelines, on tapegrad's counter-based Philox stream.
///
/// Every draw takes the next counter of a Generator, so a pipeline is reproduced exactly by its
/// (seed, offset) pair on any platform (std::uniform_int_distribution is not portable across
/// standard libraries, so it is not used).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "../core/error.h"
#include "../core/random.h"

namespace tapegrad::data {

/// 64 uniform random bits from Philox words 0 and 2 (the xor-ed high product halves). Words 1
/// and 3 are plain low product halves, whose lowest bits were seen to repeat with the counter
/// (period 6 for seed 0), so they are not used.
inline uint64_t random_bits64(Generator& gen) {
    Philox4 r = philox4x32(gen.seed(), gen.take(1));
    return (uint64_t(r.v[0]) << 32) | uint64_t(r.v[2]);
}

/// Uniform integer in [low, high] (inclusive), unbiased by rejection.
inline int64_t random_int(Generator& gen, int64_t low, int64_t high) {
    if (high < low) fail("random_int", "empty range [{}, {}]", low, high);
    uint64_t span = uint64_t(high) - uint64_t(low) + 1;  // 0 means the full 2^64 range
    if (span == 0) return int64_t(random_bits64(gen));
    // Lemire's multiply-shift: the high 64 bits of draw * span, rejecting the few draws whose
    // low half falls below 2^64 mod span (those would make some results more likely).
    uint64_t threshold = (0 - span) % span;
    for (;;) {
        unsigned __int128 product = (unsigned __int128)random_bits64(gen) * span;
        if (uint64_t(product) >= threshold) return low + int64_t(uint64_t(product >> 64));
    }
}

/// Fisher-Yates shuffle.
template <typename T>
void shuffle(std::vector<T>& values, Generator& gen) {
    for (int64_t i = int64_t(values.size()) - 1; i > 0; --i)
        std::swap(values[size_t(i)], values[size_t(random_int(gen, 0, i))]);
}

}  // namespace tapegrad::data
