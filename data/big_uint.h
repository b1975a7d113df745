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

/// An arbitrary-precision unsigned integer (see the file's description); default-constructed, zero.
class BigUint {
public:
    BigUint() = default;
    /// The value of `value`.
    explicit BigUint(uint64_t value);
    /// From binary digits, least significant first; each digit must be 0 or 1.
    static BigUint from_bits_le(const std::vector<int64_t>& bits);
    /// Uniform in [1, 2^bit_count - 1] (bit_count >= 1): draw bit_count bits, redraw zero.
    static BigUint random_nonzero(int64_t bit_count, Generator& gen);

    bool is_zero() const { return limbs_.empty(); }  ///< whether it is 0
    int64_t bit_length() const;  ///< the number of binary digits (0 for zero)
    bool bit(int64_t index) const;  ///< binary digit `index` (0 = least significant)
    void set_bit(int64_t index);  ///< sets binary digit `index` to 1
    /// Binary digits least significant first, exactly bit_length() of them (none for zero).
    std::vector<int64_t> bits_le() const;

    friend BigUint operator+(const BigUint& a, const BigUint& b);  ///< a + b
    friend BigUint operator*(const BigUint& a, const BigUint& b);  ///< a * b
    friend bool operator<(const BigUint& a, const BigUint& b);  ///< a < b
    friend bool operator==(const BigUint& a, const BigUint& b) { return a.limbs_ == b.limbs_; }  ///< a == b

private:
    void trim();
    std::vector<uint32_t> limbs_;
};

/// floor(sqrt(n)).
BigUint isqrt(const BigUint& n);

}  // namespace tapegrad::data
