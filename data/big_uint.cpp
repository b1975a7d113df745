#include "big_uint.h"

#include <algorithm>

#include "../core/error.h"
#include "random_draws.h"

namespace tapegrad::data {

BigUint::BigUint(uint64_t value) {
    limbs_ = {uint32_t(value), uint32_t(value >> 32)};
    trim();
}

void BigUint::trim() {
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
}

BigUint BigUint::from_bits_le(const std::vector<int64_t>& bits) {
    BigUint n;
    for (size_t i = 0; i < bits.size(); ++i) {
        if (bits[i] != 0 && bits[i] != 1) fail("BigUint::from_bits_le", "digit {} is {} (expected 0 or 1)", i, bits[i]);
        if (bits[i]) n.set_bit(int64_t(i));
    }
    return n;
}

BigUint BigUint::random_nonzero(int64_t bit_count, Generator& gen) {
    if (bit_count < 1) fail("BigUint::random_nonzero", "bit_count is {} (expected >= 1)", bit_count);
    for (;;) {
        BigUint n;
        for (int64_t i = 0; i < bit_count; ++i)
            if (random_int(gen, 0, 1)) n.set_bit(i);
        if (!n.is_zero()) return n;
    }
}

int64_t BigUint::bit_length() const {
    if (limbs_.empty()) return 0;
    uint32_t top = limbs_.back();
    int64_t top_bits = 0;
    while (top) ++top_bits, top >>= 1;
    return int64_t(limbs_.size() - 1) * 32 + top_bits;
}

bool BigUint::bit(int64_t index) const {
    size_t limb = size_t(index / 32);
    return limb < limbs_.size() && ((limbs_[limb] >> (index % 32)) & 1u);
}

void BigUint::set_bit(int64_t index) {
    size_t limb = size_t(index / 32);
    if (limbs_.size() <= limb) limbs_.resize(limb + 1, 0);
    limbs_[limb] |= uint32_t(1) << (index % 32);
}

std::vector<int64_t> BigUint::bits_le() const {
    std::vector<int64_t> bits(static_cast<size_t>(bit_length()));
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = bit(int64_t(i));
    return bits;
}

BigUint operator+(const BigUint& a, const BigUint& b) {
    BigUint sum;
    size_t n = std::max(a.limbs_.size(), b.limbs_.size());
    sum.limbs_.resize(n + 1, 0);
    uint64_t carry = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t s = carry;
        if (i < a.limbs_.size()) s += a.limbs_[i];
        if (i < b.limbs_.size()) s += b.limbs_[i];
        sum.limbs_[i] = uint32_t(s);
        carry = s >> 32;
    }
    sum.limbs_[n] = uint32_t(carry);
    sum.trim();
    return sum;
}

// Schoolbook: product limb i+j accumulates a_i * b_j; each partial fits in 64 bits with carry.
BigUint operator*(const BigUint& a, const BigUint& b) {
    BigUint product;
    if (a.is_zero() || b.is_zero()) return product;
    product.limbs_.assign(a.limbs_.size() + b.limbs_.size(), 0);
    for (size_t i = 0; i < a.limbs_.size(); ++i) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b.limbs_.size(); ++j) {
            uint64_t t = uint64_t(a.limbs_[i]) * b.limbs_[j] + product.limbs_[i + j] + carry;
            product.limbs_[i + j] = uint32_t(t);
            carry = t >> 32;
        }
        product.limbs_[i + b.limbs_.size()] = uint32_t(carry);
    }
    product.trim();
    return product;
}

bool operator<(const BigUint& a, const BigUint& b) {
    if (a.limbs_.size() != b.limbs_.size()) return a.limbs_.size() < b.limbs_.size();
    for (size_t i = a.limbs_.size(); i-- > 0;)
        if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] < b.limbs_[i];
    return false;
}

// Root bit by bit from the top: keep bit k of r when (r + 2^k)^2 <= n. The root of a
// b-bit number has at most ceil(b/2) bits.
BigUint isqrt(const BigUint& n) {
    BigUint root;
    for (int64_t k = (n.bit_length() + 1) / 2 - 1; k >= 0; --k) {
        BigUint candidate = root;
        candidate.set_bit(k);
        if (!(n < candidate * candidate)) root = candidate;
    }
    return root;
}

}  // namespace tapegrad::data
