// Discrete random draws for the data pipelines, on tapegrad's counter-based Philox stream.
//
// Every draw takes the next counter of a Generator, so a pipeline is reproduced exactly by its
// (seed, offset) pair on any platform (std::uniform_int_distribution is not portable across
// standard libraries, so it is not used).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace tapegrad::data {

// 64 uniform random bits.
inline uint64_t random_bits64(Generator& gen) {
    Philox4 r = philox4x32(gen.seed(), gen.take(1));
    return (uint64_t(r.v[0]) << 32) | uint64_t(r.v[1]);
}

// Uniform integer in [low, high] (inclusive), unbiased by rejection.
inline int64_t random_int(Generator& gen, int64_t low, int64_t high) {
    if (high < low) fail("random_int", "empty range [{}, {}]", low, high);
    uint64_t span = uint64_t(high) - uint64_t(low) + 1;  // 0 means the full 2^64 range
    if (span == 0) return int64_t(random_bits64(gen));
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;    // largest multiple of span, exclusive
    uint64_t draw;
    do draw = random_bits64(gen);
    while (draw >= limit);
    return low + int64_t(draw % span);
}

// Fisher-Yates shuffle.
template <typename T>
void shuffle(std::vector<T>& values, Generator& gen) {
    for (int64_t i = int64_t(values.size()) - 1; i > 0; --i)
        std::swap(values[size_t(i)], values[size_t(random_int(gen, 0, i))]);
}

}  // namespace tapegrad::data
