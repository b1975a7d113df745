/// \file
/// Errors: every misuse of tapegrad throws tapegrad::Error, a std::runtime_error whose message
/// starts with the op that detected the mistake, then what it got and what it expected:
///   "matmul: inner dimensions differ: a is [32, 128], b is [256, 512] (a.shape[1] must equal b.shape[0])"
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace tapegrad {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Throws Error("<op>: <message>") with the message formatted by fmt from `args`: fail("matmul", "inner dimensions differ: a is {}", ...).
template <typename... Args>
[[noreturn]] void fail(const std::string& op, fmt::format_string<Args...> message, Args&&... args) {
    throw Error(op + ": " + fmt::format(message, std::forward<Args>(args)...));
}

}  // namespace tapegrad
