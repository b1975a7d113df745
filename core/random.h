/// \file
/// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
///
/// The i-th random number of a stream depends only on (seed, i), not on the order numbers are
/// drawn in, so the CPU and a GPU with thousands of threads produce the same values: element i
/// of a dropout mask or of randn() is the same on every device for the same seed.
#pragma once
#include <cmath>
#include <cstdint>

#include "hostdevice.h"

namespace tapegrad {

/// Four 32-bit random words: one Philox-4x32 output.
struct Philox4 {
    uint32_t v[4];  ///< the words
};

/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011): the four random words of `counter` under key `seed`, the same on every device.
TG_HD Philox4 philox4x32(uint64_t seed, uint64_t counter) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = uint64_t(0xD2511F53u) * c0;
        uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
        uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
        c1 = uint32_t(p1);
        c3 = uint32_t(p0);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return {{c0, c1, c2, c3}};
}

/// Uniform in [0, 1) with 53 random bits, element `index` of stream `seed`.
TG_HD double philox_uniform(uint64_t seed, uint64_t index) {
    Philox4 r = philox4x32(seed, index);
    uint64_t bits = (uint64_t(r.v[0]) << 21) ^ uint64_t(r.v[1]);
    return double(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/// Standard normal, element `index` of stream `seed` (Box-Muller on two 32-bit halves).
TG_HD double philox_normal(uint64_t seed, uint64_t index) {
    Philox4 r = philox4x32(seed, index);
    double u1 = (double(r.v[0]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1]
    double u2 = double(r.v[1]) * (1.0 / 4294967296.0);          // [0, 1)
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/// A seeded stream: each draw of n numbers takes the next n counters.
class Generator {
public:
    /// A stream of key `seed`, at offset 0.
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    uint64_t seed() const { return seed_; }  ///< the key of every draw
    uint64_t offset() const { return offset_; }  ///< the counter of the next draw
    void set_offset(uint64_t offset) { offset_ = offset; }  ///< moves the stream to counter `offset` (restoring a saved position)
    /// Reserves `count` counters and returns the first.
    uint64_t take(uint64_t count) {
        uint64_t first = offset_;
        offset_ += count;
        return first;
    }

private:
    uint64_t seed_;
    uint64_t offset_ = 0;
};

}  // namespace tapegrad
