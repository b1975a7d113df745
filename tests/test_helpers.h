// Shared by the test suites: random inputs and a gradcheck assertion that prints the mismatch.
#pragma once
#include <boost/test/unit_test.hpp>

#include "tapegrad.h"

namespace tapegrad::testing {

// A float64 leaf with values in [low, high), requiring grad; each seed gives different values.
inline Tensor input(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0,
                    Device device = Device::cpu()) {
    Generator gen(seed);
    Tensor t = Tensor::uniform(shape, low, high, gen, DType::Float64, device);
    t.set_requires_grad();
    return t;
}

#define TAPEGRAD_CHECK_GRADIENT(fn, inputs)                                                   \
    do {                                                                                      \
        auto gradcheck_result = ::tapegrad::gradcheck((fn), (inputs));                        \
        BOOST_CHECK_MESSAGE(gradcheck_result.ok, gradcheck_result.message);                   \
        BOOST_CHECK_GT(gradcheck_result.checked, 0);                                          \
    } while (0)

// Asserts that `statement` throws tapegrad::Error whose message contains every fragment.
#define TAPEGRAD_CHECK_ERROR(statement, ...)                                                  \
    do {                                                                                      \
        bool thrown = false;                                                                  \
        try {                                                                                 \
            statement;                                                                        \
        } catch (const ::tapegrad::Error& e) {                                                \
            thrown = true;                                                                    \
            for (const char* fragment : {__VA_ARGS__})                                        \
                BOOST_CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos, \
                                    "error message '" << e.what() << "' lacks '" << fragment << "'"); \
        }                                                                                     \
        BOOST_CHECK_MESSAGE(thrown, "expected a tapegrad::Error from: " #statement);          \
    } while (0)

}  // namespace tapegrad::testing
