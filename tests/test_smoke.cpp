#define BOOST_TEST_MODULE smoke
#include "tests/test_helpers.h"
using namespace tapegrad;
using namespace tapegrad::testing;
BOOST_AUTO_TEST_CASE(smoke) {
    Tensor a = input({2, 3}, 1), b = input({3}, 2), w = input({3, 4}, 3);
    TAPEGRAD_CHECK_GRADIENT([](const std::vector<Tensor>& x) { return matmul(sigmoid(x[0] * x[1]) + x[1], x[2]); }, (std::vector<Tensor>{a, b, w}));
    TAPEGRAD_CHECK_GRADIENT([](const std::vector<Tensor>& x) { return sum(tanh(x[0]), 1); }, (std::vector<Tensor>{a}));
    std::cout << a << std::endl;
}
