/// \file
/// Checks for the values of CLI11 options, shared by every program's command line (tapegrad-train,
/// the examples, the benchmarks). CLI11 puts the option's name in front of their message:
///   --rounds: 0 is not an integer >= 1
///   --lr: value nan is not a finite number in (0, 1.7976931348623157e+308)
/// (CLI11's own PositiveNumber would say "Value 0 not in range 0.000000 to 1797...": the full digits
/// of the largest double, and a range that seems to hold the value refused).
#pragma once
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace tapegrad {

/// Integers: all of the text a decimal integer, at least `min`.
inline CLI::Validator at_least(int64_t min) {
    return CLI::Validator(
        [min](std::string& text) -> std::string {
            int64_t v = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
            const bool ok = !text.empty() && error == std::errc() && end == text.data() + text.size() && v >= min;
            return ok ? std::string() : fmt::format("{} is not an integer >= {}", text, min);
        },
        fmt::format("INT >= {}", min));
}

/// Reals: finite (NaN and infinity never pass) and within [min, max), or (min, max) if `above`.
inline CLI::Validator real_in(double min, double max, bool above = false) {
    const std::string range = fmt::format("{}{}, {})", above ? "(" : "[", min, max);
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            const bool ok = !text.empty() && *end == '\0' && std::isfinite(v) && (above ? v > min : v >= min) && v < max;
            return ok ? std::string() : fmt::format("value {} is not a finite number in {}", text, range);
        },
        "REAL in " + range);
}
/// The `max` of real_in for a value with no upper bound.
constexpr double kUnbounded = std::numeric_limits<double>::max();

}  // namespace tapegrad
