/// \file
/// Element types. Float32 and Float64 carry values and gradients; Int64 holds indices
/// (embedding lookups, class targets, argmax results) and is never differentiated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tapegrad {

/// The element types of a tensor: float32 and float64 values, int64 indices.
enum class DType { Float32, Float64, Int64 };

/// Bytes per element: 4 for Float32, 8 for Float64 and Int64.
inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }

/// "float32", "float64" or "int64".
inline std::string to_string(DType t) {
    switch (t) {
        case DType::Float32: return "float32";
        case DType::Float64: return "float64";
        case DType::Int64: return "int64";
    }
    return "?";
}

/// Whether t holds floating-point values (Float32 or Float64).
inline bool is_floating(DType t) { return t != DType::Int64; }

/// The DType of the C++ element type T (float, double, int64_t).
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }  ///< Float32
template <> constexpr DType dtype_of<double>() { return DType::Float64; }  ///< Float64
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }  ///< Int64

}  // namespace tapegrad
