// The Transformer encoder: gradients of a tiny instance, masks, defaults.
#define BOOST_TEST_MODULE transformer
#include "models/transformer.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
TransformerOptions tiny(bool causal = false) {
    TransformerOptions o;
    o.d_model = 4, o.heads = 2, o.layers = 2, o.dropout = 0.0, o.causal = causal;
    return o;
}
}  // namespace

BOOST_AUTO_TEST_CASE(transformer_gradient) {
    for (bool causal : {false, true}) {
        Generator gen(1);
        TransformerEncoder net(0, 3, tiny(causal), gen);
        net.to(DType::Float64);
        Tensor x = input({2, 3, 3}, 2);
        Inputs all = {x};
        for (const Tensor& p : net.parameters()) all.push_back(p);
        TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return net.forward(x, {3, 2}); }, all);
    }
}

BOOST_AUTO_TEST_CASE(padding_and_causal_masks) {
    Generator gen(3);
    TransformerEncoder net(0, 3, tiny(), gen);
    net.to(DType::Float64);
    Tensor real = input({1, 2, 3}, 4);
    Tensor a = concat({real, input({1, 2, 3}, 5)}, 1), b = concat({real, input({1, 2, 3}, 6)}, 1);
    std::vector<double> ya = net.forward(a, {2}).to_double_vector(), yb = net.forward(b, {2}).to_double_vector();
    for (int k = 0; k < 2 * 4; ++k) BOOST_CHECK_SMALL(ya[k] - yb[k], 1e-12);  // real positions agree

    Generator gen2(3);
    TransformerEncoder causal(0, 3, tiny(true), gen2);
    causal.to(DType::Float64);
    std::vector<double> ca = causal.forward(a).to_double_vector(), cr = causal.forward(real).to_double_vector();
    for (int k = 0; k < 2 * 4; ++k) BOOST_CHECK_SMALL(ca[k] - cr[k], 1e-12);  // the future is invisible
}

BOOST_AUTO_TEST_CASE(defaults_and_token_inputs) {
    TransformerOptions o;
    BOOST_CHECK_EQUAL(o.d_model, 64);
    BOOST_CHECK_EQUAL(o.heads, 8);
    BOOST_CHECK_EQUAL(o.layers, 5);
    BOOST_CHECK_EQUAL(o.dropout, 0.1);
    Generator gen(7);
    TransformerEncoder net(10, 0, o, gen);
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
    BOOST_CHECK(net.forward(ids).shape() == (Shape{2, 3, 64}));
    TransformerOptions bad = tiny();
    bad.heads = 3;
    TAPEGRAD_CHECK_ERROR(TransformerEncoder(0, 3, bad, gen), "Transformer", "not divisible");
}
