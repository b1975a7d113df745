/// \file
/// Element types. Float32 and Float64 carry values and gradients; Int64 holds indices
/// (embedding lookups, class targets, argmax results) and is never differentiated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tapegrad {

enum class DType { Float32, Float64, Int64 };

inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }

inline std::string to_string(DType t) {
    switch (t) {
        case DType::Float32: return "float32";
        case DType::Float64: return "float64";
        case DType::Int64: return "int64";
    }
    return "?";
}

inline bool is_floating(DType t) { return t != DType::Int64; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }

}  // namespace tapegrad
