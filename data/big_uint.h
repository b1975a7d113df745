/// \file
/// BigUint: a minimal arbitrary-precision unsigned integer for the binary-arithmetic tasks
/// (binary_addition, binary_multiplication, compute_sqrt draw numbers of up to 500 bits).
///
/// Stored as 32-bit limbs, least significant first, with no leading zero limbs (zero has none).
/// Only what the generators need: bits in and out, +, *, comparison and integer square root.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/random.h"

namespace tapegrad::data {

class BigUint {
public:
    BigUint() = default;
    explicit BigUint(uint64_t value);
    /// From binary digits, least significant first; each digit must be 0 or 1.
    static BigUint from_bits_le(const std::vector<int64_t>& bits);
    /// Uniform in [1, 2^bit_count - 1] (bit_count >= 1): draw bit_count bits, redraw zero.
    static BigUint random_nonzero(int64_t bit_count, Generator& gen);

    bool is_zero() const { return limbs_.empty(); }
    int64_t bit_length() const;
    bool bit(int64_t index) const;
    void set_bit(int64_t index);
    /// Binary digits least significant first, exactly bit_length() of them (none for zero).
    std::vector<int64_t> bits_le() const;

    friend BigUint operator+(const BigUint& a, const BigUint& b);
    friend BigUint operator*(const BigUint& a, const BigUint& b);
    friend bool operator<(const BigUint& a, const BigUint& b);
    friend bool operator==(const BigUint& a, const BigUint& b) { return a.limbs_ == b.limbs_; }

private:
    void trim();
    std::vector<uint32_t> limbs_;
};

/// floor(sqrt(n)).
BigUint isqrt(const BigUint& n);

}  // namespace tapegrad::data
