// Layers, modules, optimizers and checkpoints.
#define BOOST_TEST_MODULE models
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>

#include "models/checkpoint.h"
#include "models/containers.h"
#include "models/init.h"
#include "models/layers.h"
#include "models/optim.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
// A two-level module: "encoder.proj" and "head".
struct Net : Module {
    struct Encoder : Module {
        Linear proj;
        LayerNorm norm;
        explicit Encoder(Generator& gen) : proj(3, 4, gen), norm(4) {
            register_module("proj", &proj);
            register_module("norm", &norm);
        }
    };
    Encoder encoder;
    Linear head;
    explicit Net(Generator& gen) : encoder(gen), head(4, 2, gen, false) {
        register_module("encoder", &encoder);
        register_module("head", &head);
    }
    Tensor forward(const Tensor& x) const { return head.forward(tanh(encoder.norm.forward(encoder.proj.forward(x)))); }
};

std::string temp_path(const std::string& name) { return "/tmp/tapegrad_test_" + std::to_string(::getpid()) + "_" + name; }
}  // namespace

BOOST_AUTO_TEST_CASE(module_names_counts_and_dtype) {
    Generator gen(1);
    Net net(gen);
    auto named = net.named_parameters();
    std::vector<std::string> names;
    for (auto& [n, t] : named) names.push_back(n);
    BOOST_CHECK((names == std::vector<std::string>{"encoder.proj.weight", "encoder.proj.bias", "encoder.norm.weight",
                                                   "encoder.norm.bias", "head.weight"}));
    BOOST_CHECK_EQUAL(net.num_parameters(), 3 * 4 + 4 + 4 + 4 + 4 * 2);
    std::string table = net.summary("net");
    BOOST_CHECK_MESSAGE(table.find("net.encoder.proj.weight") != std::string::npos, table);
    BOOST_CHECK_MESSAGE(table.find("total") != std::string::npos && table.find("32") != std::string::npos, table);
    net.to(DType::Float64);
    for (const Tensor& p : net.parameters()) {
        BOOST_CHECK(p.dtype() == DType::Float64);
        BOOST_CHECK(p.requires_grad() && p.is_leaf());
    }
    net.eval();
    BOOST_CHECK(!net.encoder.proj.training());
}

BOOST_AUTO_TEST_CASE(layers_gradient) {
    Generator gen(2);
    Net net(gen);
    net.to(DType::Float64);
    Tensor x = input({2, 3, 3}, 3);
    Inputs all = {x};
    for (const Tensor& p : net.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return net.forward(x); }, all);
}

BOOST_AUTO_TEST_CASE(layer_norm_values) {
    LayerNorm norm(4);
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 4});
    std::vector<float> y = norm.forward(x).to_vector<float>();
    double sd = std::sqrt(1.25 + 1e-5);
    for (int i = 0; i < 4; ++i) BOOST_CHECK_CLOSE(y[i], (i + 1 - 2.5) / sd, 1e-4);
}

BOOST_AUTO_TEST_CASE(embedding_gradient_and_padding) {
    Generator gen(4);
    Embedding emb(6, 3, gen, /*padding_idx=*/0);
    emb.to(DType::Float64);
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{2, 0, 5, 2, 2, 1}, {2, 3});  // repeats and padding
    TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return emb.forward(ids); }, Inputs{emb.weight});
    BOOST_CHECK(emb.forward(ids).shape() == (Shape{2, 3, 3}));
    std::vector<double> row0 = slice(emb.weight, 0, 0, 1).to_double_vector();
    for (double v : row0) BOOST_CHECK_EQUAL(v, 0.0);
    backward(sum(emb.forward(ids) * 3.0));
    std::vector<double> g = emb.weight.grad().to_double_vector();
    for (int j = 0; j < 3; ++j) {
        BOOST_CHECK_EQUAL(g[0 * 3 + j], 0.0);  // padding row: no gradient
        BOOST_CHECK_EQUAL(g[2 * 3 + j], 9.0);  // id 2 used three times
        BOOST_CHECK_EQUAL(g[3 * 3 + j], 0.0);  // unused
    }
}

BOOST_AUTO_TEST_CASE(dropout_module_respects_eval) {
    Dropout drop(0.5, 3);
    Tensor x = Tensor::ones({1000});
    BOOST_CHECK(!drop.forward(x).same(x));
    drop.eval();
    BOOST_CHECK(drop.forward(x).same(x));
}

BOOST_AUTO_TEST_CASE(truncated_normal_stays_within_two_sigma) {
    Generator gen(5);
    std::vector<float> v = truncated_normal_init({5000}, 0.5, gen).to_vector<float>();
    for (float x : v) BOOST_REQUIRE(std::fabs(x) <= 1.0f + 1e-6f);
    double var = 0;
    for (float x : v) var += double(x) * x / v.size();
    BOOST_CHECK_CLOSE(std::sqrt(var), 0.5 * 0.88, 5.0);  // sd of a ±2σ-truncated normal is 0.88σ
}

// ---- optimizers, against the published update formulas worked by hand -----------------------

namespace {
Tensor param(std::vector<double> v) {
    return Tensor::from_vector(v, {int64_t(v.size())}).set_requires_grad();
}
void set_grad(Tensor& p, std::vector<double> g) { p.set_grad(Tensor::from_vector(g, {int64_t(g.size())})); }
}  // namespace

BOOST_AUTO_TEST_CASE(sgd_momentum_nesterov_weight_decay) {
    Tensor p = param({1.0, -2.0});
    SgdOptions o;
    o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.01;
    SGD sgd({p}, o);
    set_grad(p, {0.5, 1.0});
    sgd.step();
    // g = 0.5 + 0.01*1 = 0.51; buf = g; p = 1 - 0.1*0.51
    BOOST_CHECK_CLOSE(p.to_double_vector()[0], 1 - 0.051, 1e-10);
    set_grad(p, {0.2, 0.0});
    sgd.step();
    double g2 = 0.2 + 0.01 * 0.949, buf2 = 0.9 * 0.51 + g2;
    BOOST_CHECK_CLOSE(p.to_double_vector()[0], 0.949 - 0.1 * buf2, 1e-10);

    Tensor q = param({1.0});
    o.weight_decay = 0, o.nesterov = true;
    SGD nesterov({q}, o);
    set_grad(q, {0.5});
    nesterov.step();  // buf = 0.5; step = 0.5 + 0.9*0.5
    BOOST_CHECK_CLOSE(q.item(), 1 - 0.1 * 0.95, 1e-10);
    TAPEGRAD_CHECK_ERROR(SGD({q}, SgdOptions{0.1, 0.0, 0.0, 0.0, true}), "SGD", "Nesterov");
}

BOOST_AUTO_TEST_CASE(adam_and_adamw_steps) {
    Tensor p = param({1.0}), q = param({1.0});
    AdamOptions o;
    o.lr = 0.1, o.weight_decay = 0.1;
    Adam adam({p}, o);
    AdamW adamw({q}, o);
    for (double g : {0.5, -0.25}) {
        set_grad(p, {g});
        set_grad(q, {g});
        adam.step();
        adamw.step();
    }
    // By hand. Adam (L2): step 1: g = 0.5 + 0.1*1 = 0.6; m = 0.06, v = 0.00036;
    //   p1 = 1 - 0.1 * (0.06/0.1) / (sqrt(0.00036/0.001) + 1e-8) = 1 - 0.1 * 0.6/0.6 = 0.9
    double p1 = 1 - 0.1 * (0.06 / 0.1) / (std::sqrt(0.00036 / 0.001) + 1e-8);
    double g2 = -0.25 + 0.1 * p1;
    double m2 = 0.9 * 0.06 + 0.1 * g2, v2 = 0.999 * 0.00036 + 0.001 * g2 * g2;
    double p2 = p1 - 0.1 * (m2 / 0.19) / (std::sqrt(v2 / (1 - 0.999 * 0.999)) + 1e-8);
    BOOST_CHECK_CLOSE(p.item(), p2, 1e-9);
    // AdamW: decay first (p *= 1 - lr*wd), then Adam on the raw gradient.
    double q1 = 1 * (1 - 0.01) - 0.1 * (0.05 / 0.1) / (std::sqrt(0.00025 / 0.001) + 1e-8);
    double mq = 0.9 * 0.05 + 0.1 * -0.25, vq = 0.999 * 0.00025 + 0.001 * 0.0625;
    double q2 = q1 * (1 - 0.01) - 0.1 * (mq / 0.19) / (std::sqrt(vq / (1 - 0.999 * 0.999)) + 1e-8);
    BOOST_CHECK_CLOSE(q.item(), q2, 1e-9);
    BOOST_CHECK_EQUAL(adam.steps(), 2);
    BOOST_CHECK_CLOSE(AdamW::defaults().weight_decay, 0.01, 1e-12);
}

// PyTorch's order works: an optimizer made before model.to(...) trains the moved model, step for
// step as one made after the move (Module::to moves each parameter in place, and the optimizer's
// state follows its parameter). Before, the optimizer kept the old tensors: the loss never moved.
BOOST_AUTO_TEST_CASE(optimizer_made_before_module_to_trains_the_moved_model) {
    auto train = [](bool optimizer_first, auto make_optimizer) {
        Generator gen(3);
        Linear layer(3, 2, gen);
        std::unique_ptr<Optimizer> optimizer;
        if (optimizer_first) optimizer = make_optimizer(layer.parameters());
        layer.to(DType::Float64);
        if (!optimizer_first) optimizer = make_optimizer(layer.parameters());
        const Tensor x = Tensor::uniform({8, 3}, -1, 1, gen, DType::Float64);
        std::vector<double> losses;
        for (int step = 0; step < 5; ++step) {
            optimizer->zero_grad();
            Tensor loss = mean(layer.forward(x) * layer.forward(x));
            losses.push_back(loss.item());
            backward(loss);
            optimizer->step();
        }
        BOOST_CHECK(layer.weight.dtype() == DType::Float64);
        for (const auto& [name, state] : optimizer->state()) BOOST_CHECK(state->dtype() == DType::Float64);
        return losses;
    };
    auto adam = [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> { return std::make_unique<Adam>(p, AdamOptions{0.1}); };
    auto sgd = [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
        SgdOptions o;
        o.lr = 0.1, o.momentum = 0.9;
        return std::make_unique<SGD>(p, o);
    };
    for (auto make : {std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>(adam),
                      std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>(sgd)}) {
        const std::vector<double> before = train(true, make), after = train(false, make);
        BOOST_CHECK(before == after);
        BOOST_CHECK_LT(before.back(), before.front());
    }
}

BOOST_AUTO_TEST_CASE(gradient_clipping) {
    Tensor a = param({3.0, 0.0}), b = param({4.0});
    set_grad(a, {3.0, 0.0});
    set_grad(b, {4.0});
    double norm = clip_grad_norm({a, b}, 1.0);
    BOOST_CHECK_CLOSE(norm, 5.0, 1e-10);
    BOOST_CHECK_CLOSE(a.grad().to_double_vector()[0], 3.0 / (5.0 + 1e-6), 1e-8);
    BOOST_CHECK_CLOSE(b.grad().item(), 4.0 / (5.0 + 1e-6), 1e-8);
    BOOST_CHECK_CLOSE(clip_grad_norm({a, b}, 10.0), 1.0, 1e-4);  // below max: unchanged
    BOOST_CHECK_CLOSE(b.grad().item(), 4.0 / (5.0 + 1e-6), 1e-8);
}

// The lr a scheduler sets at steps 0 .. steps - 1 of an SGD on one parameter with lr `base_lr`.
std::vector<double> scheduled_lrs(double base_lr, int steps, const std::function<std::unique_ptr<LrScheduler>(Optimizer&)>& make) {
    SGD sgd({param({1.0})}, SgdOptions{base_lr});
    std::unique_ptr<LrScheduler> scheduler = make(sgd);
    std::vector<double> lrs;
    for (int step = 0; step < steps; ++step) {
        BOOST_CHECK_EQUAL(scheduler->last_epoch(), step);
        lrs.push_back(sgd.lr());
        BOOST_CHECK_EQUAL(scheduler->get_last_lr().at(0), sgd.lr());
        scheduler->step();
    }
    return lrs;
}

void check_lrs(const std::vector<double>& got, const std::vector<double>& expected) {
    BOOST_REQUIRE_EQUAL(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
        BOOST_CHECK_MESSAGE(std::abs(got[i] - expected[i]) <= 1e-12, "step " << i << ": lr " << got[i] << ", expected " << expected[i]);
}

// tapegrad-train's schedules (the values LrSchedule gave before it became these schedulers).
BOOST_AUTO_TEST_CASE(warmup_and_warmup_cosine_schedules) {
    auto warm = scheduled_lrs(1.0, 6, [](Optimizer& o) { return std::make_unique<WarmupLR>(o, 4); });
    check_lrs(warm, {0.25, 0.5, 0.75, 1.0, 1.0, 1.0});
    check_lrs(scheduled_lrs(0.1, 2, [](Optimizer& o) { return std::make_unique<WarmupLR>(o, 0); }), {0.1, 0.1});  // no warm-up
    auto cosine = scheduled_lrs(1.0, 112, [](Optimizer& o) { return std::make_unique<WarmupCosineLR>(o, 110, 10, 0.1); });
    BOOST_CHECK_CLOSE(cosine[4], 0.5, 1e-12);
    BOOST_CHECK_CLOSE(cosine[10], 1.0, 1e-12);
    BOOST_CHECK_CLOSE(cosine[60], 0.55, 1e-9);  // halfway: min + (max - min) / 2
    BOOST_CHECK_CLOSE(cosine[110], 0.1, 1e-9);
    BOOST_CHECK_CLOSE(cosine[111], 0.1, 1e-9);  // and there it stays
}

// PyTorch's schedulers, against their closed forms worked by hand.
BOOST_AUTO_TEST_CASE(pytorch_schedulers_follow_their_closed_forms) {
    check_lrs(scheduled_lrs(1.0, 7, [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); }),
              {1, 1, 1, 0.5, 0.5, 0.5, 0.25});
    check_lrs(scheduled_lrs(2.0, 5, [](Optimizer& o) { return std::make_unique<LinearLR>(o, 0.25, 1.0, 3); }),
              {0.5, 1.0, 1.5, 2.0, 2.0});
    // eta_min + (base - eta_min)(1 + cos(pi t / 4)) / 2, and up again after T_max (PyTorch's closed form).
    const double c = std::cos(M_PI / 4);
    check_lrs(scheduled_lrs(1.0, 6, [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 4, 0.2); }),
              {1.0, 0.2 + 0.8 * (1 + c) / 2, 0.6, 0.2 + 0.8 * (1 - c) / 2, 0.2, 0.2 + 0.8 * (1 - c) / 2});
    check_lrs(scheduled_lrs(0.5, 4, [](Optimizer& o) { return std::make_unique<LambdaLR>(o, [](int64_t s) { return 1.0 / double(s + 1); }); }),
              {0.5, 0.25, 0.5 / 3, 0.125});
}

// Each group is scaled from its own base lr; a scheduler made with last_epoch = s - 1 (a resumed
// run) sets what an uninterrupted one sets at step s.
BOOST_AUTO_TEST_CASE(schedulers_scale_each_group_and_resume_at_a_step) {
    Tensor a = param({1.0}), b = param({2.0});
    SGD sgd({a}, SgdOptions{1.0});
    sgd.add_param_group({{b}, 0.1});
    StepLR scheduler(sgd, 2, 0.5);
    for (int i = 0; i < 5; ++i) scheduler.step();
    check_lrs(scheduler.get_last_lr(), {0.25, 0.025});  // step 5: gamma^2
    check_lrs(scheduler.base_lrs(), {1.0, 0.1});

    SGD resumed({param({1.0})}, SgdOptions{1.0});
    resumed.add_param_group({{param({2.0})}, 0.1});
    StepLR resumed_scheduler(resumed, 2, 0.5, /*last_epoch=*/4);
    BOOST_CHECK_EQUAL(resumed_scheduler.last_epoch(), 5);
    BOOST_CHECK(resumed_scheduler.get_last_lr() == scheduler.get_last_lr());
}

// Two groups in one optimizer take the same steps, bit for bit, as one optimizer per group with
// that group's lr and weight decay: each group's options reach the update.
BOOST_AUTO_TEST_CASE(param_groups_step_as_separate_optimizers) {
    using Make = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>, double lr, double weight_decay)>;
    const Make adam = [](std::vector<Tensor> p, double lr, double wd) -> std::unique_ptr<Optimizer> {
        AdamOptions o;
        o.lr = lr, o.weight_decay = wd;
        return std::make_unique<Adam>(p, o);
    };
    const Make adamw = [](std::vector<Tensor> p, double lr, double wd) -> std::unique_ptr<Optimizer> {
        AdamOptions o;
        o.lr = lr, o.weight_decay = wd;
        return std::make_unique<AdamW>(p, o);
    };
    const Make sgd = [](std::vector<Tensor> p, double lr, double wd) -> std::unique_ptr<Optimizer> {
        SgdOptions o;
        o.lr = lr, o.momentum = 0.9, o.weight_decay = wd;
        return std::make_unique<SGD>(p, o);
    };
    for (const Make& make : {adam, adamw, sgd}) {
        Tensor a1 = param({1.0, -2.0}), b1 = param({0.5}), c1 = param({3.0});  // in one optimizer
        Tensor a2 = param({1.0, -2.0}), b2 = param({0.5}), c2 = param({3.0});  // in one optimizer per group
        std::unique_ptr<Optimizer> grouped = make({a1}, 0.1, 0.0);
        grouped->add_param_group({{b1, c1}, 0.01, 0.5});
        BOOST_REQUIRE_EQUAL(grouped->param_groups().size(), 2u);
        BOOST_CHECK_EQUAL(*grouped->param_groups()[1].lr, 0.01);
        BOOST_CHECK_EQUAL(*grouped->param_groups()[1].weight_decay, 0.5);
        BOOST_CHECK_EQUAL(*grouped->param_groups()[0].weight_decay, 0.0);
        BOOST_CHECK_EQUAL(grouped->params().size(), 3u);
        std::unique_ptr<Optimizer> first = make({a2}, 0.1, 0.0), second = make({b2, c2}, 0.01, 0.5);
        for (double g : {0.5, -0.25, 1.0}) {
            for (Tensor* t : {&a1, &a2}) set_grad(*t, {g, -g});
            for (Tensor* t : {&b1, &b2}) set_grad(*t, {2 * g});
            for (Tensor* t : {&c1, &c2}) set_grad(*t, {-g});
            grouped->step();
            first->step();
            second->step();
        }
        BOOST_CHECK(a1.to_vector<double>() == a2.to_vector<double>());
        BOOST_CHECK(b1.to_vector<double>() == b2.to_vector<double>());
        BOOST_CHECK(c1.to_vector<double>() == c2.to_vector<double>());
        BOOST_CHECK(b1.to_vector<double>() != std::vector<double>{0.5});
        // set_lr of one group changes that group only.
        grouped->set_lr(1, 0.02);
        BOOST_CHECK_EQUAL(grouped->lr(0), 0.1);
        BOOST_CHECK_EQUAL(grouped->lr(1), 0.02);
    }
}

// ---- argument checks (torch.optim's rules; NaN and infinity refused everywhere) -----------------

namespace {
const double kNaN = std::nan("");
const double kInf = HUGE_VAL;
}  // namespace

BOOST_AUTO_TEST_CASE(optimizers_reject_an_empty_parameter_list) {
    TAPEGRAD_CHECK_ERROR(Adam({}), "Adam: ", "optimizer got an empty parameter list");
    TAPEGRAD_CHECK_ERROR(AdamW({}), "AdamW: ", "optimizer got an empty parameter list");
    TAPEGRAD_CHECK_ERROR(SGD({}), "SGD: ", "optimizer got an empty parameter list");
}

BOOST_AUTO_TEST_CASE(optimizers_reject_a_negative_or_non_finite_lr) {
    Tensor p = param({1.0});
    TAPEGRAD_CHECK_ERROR(Adam({p}, AdamOptions{-0.001}), "Adam: ", "lr = -0.001", "expected finite lr >= 0");
    TAPEGRAD_CHECK_ERROR(Adam({p}, AdamOptions{kNaN}), "Adam: ", "lr = nan");
    TAPEGRAD_CHECK_ERROR(AdamW({p}, AdamOptions{kInf}), "AdamW: ", "lr = inf");
    TAPEGRAD_CHECK_ERROR(SGD({p}, SgdOptions{-1.0}), "SGD: ", "lr = -1", "expected finite lr >= 0");
    TAPEGRAD_CHECK_ERROR(SGD({p}, SgdOptions{kNaN}), "SGD: ", "lr = nan");
    // set_lr (what a schedule calls every step) follows the same rule and keeps the old value.
    Adam adam({p}, AdamOptions{0.0});  // lr = 0 is allowed, as in PyTorch
    adam.set_lr(0.5);
    TAPEGRAD_CHECK_ERROR(adam.set_lr(kNaN), "Adam::set_lr: ", "lr = nan", "expected finite lr >= 0");
    TAPEGRAD_CHECK_ERROR(adam.set_lr(-2.0), "Adam::set_lr: ", "lr = -2");
    BOOST_CHECK_EQUAL(adam.lr(), 0.5);
}

BOOST_AUTO_TEST_CASE(adam_rejects_betas_outside_zero_to_one) {
    Tensor p = param({1.0});
    AdamOptions o;
    o.beta1 = 1;
    TAPEGRAD_CHECK_ERROR(Adam({p}, o), "Adam: beta1 = 1 is out of range (expected 0 <= beta1 < 1)");
    o.beta1 = -0.1;
    TAPEGRAD_CHECK_ERROR(AdamW({p}, o), "AdamW: ", "beta1 = -0.1", "expected 0 <= beta1 < 1");
    o.beta1 = kNaN;
    TAPEGRAD_CHECK_ERROR(Adam({p}, o), "Adam: ", "beta1 = nan");
    o = AdamOptions{};
    o.beta2 = 1;
    TAPEGRAD_CHECK_ERROR(Adam({p}, o), "Adam: beta2 = 1 is out of range (expected 0 <= beta2 < 1)");
    o.beta2 = kNaN;
    TAPEGRAD_CHECK_ERROR(AdamW({p}, o), "AdamW: ", "beta2 = nan");
    o.beta1 = 0, o.beta2 = 0;  // the closed end is allowed
    BOOST_CHECK_NO_THROW(Adam({p}, o));
}

BOOST_AUTO_TEST_CASE(adam_rejects_a_negative_or_non_finite_eps) {
    Tensor p = param({1.0});
    AdamOptions o;
    o.eps = -0.5;
    TAPEGRAD_CHECK_ERROR(Adam({p}, o), "Adam: ", "eps = -0.5", "expected finite eps >= 0");
    o.eps = kNaN;
    TAPEGRAD_CHECK_ERROR(AdamW({p}, o), "AdamW: ", "eps = nan");
    o.eps = 0;
    BOOST_CHECK_NO_THROW(Adam({p}, o));
}

BOOST_AUTO_TEST_CASE(optimizers_reject_a_negative_or_non_finite_weight_decay) {
    Tensor p = param({1.0});
    AdamOptions a;
    a.weight_decay = -0.01;
    TAPEGRAD_CHECK_ERROR(Adam({p}, a), "Adam: ", "weight_decay = -0.01", "expected finite weight_decay >= 0");
    a.weight_decay = kNaN;
    TAPEGRAD_CHECK_ERROR(AdamW({p}, a), "AdamW: ", "weight_decay = nan");
    SgdOptions s;
    s.weight_decay = -1;
    TAPEGRAD_CHECK_ERROR(SGD({p}, s), "SGD: ", "weight_decay = -1", "expected finite weight_decay >= 0");
}

BOOST_AUTO_TEST_CASE(sgd_rejects_a_negative_or_non_finite_momentum_and_dampening) {
    Tensor p = param({1.0});
    SgdOptions o;
    o.momentum = -0.9;
    TAPEGRAD_CHECK_ERROR(SGD({p}, o), "SGD: ", "momentum = -0.9", "expected finite momentum >= 0");
    o.momentum = kNaN;
    TAPEGRAD_CHECK_ERROR(SGD({p}, o), "SGD: ", "momentum = nan");
    o.momentum = 0.9, o.dampening = kNaN;
    TAPEGRAD_CHECK_ERROR(SGD({p}, o), "SGD: ", "dampening = nan");
}

BOOST_AUTO_TEST_CASE(sgd_nesterov_requires_momentum_and_no_dampening) {
    Tensor p = param({1.0});
    SgdOptions o;
    o.nesterov = true;
    TAPEGRAD_CHECK_ERROR(SGD({p}, o), "SGD: ", "Nesterov", "momentum 0, dampening 0");
    o.momentum = 0.9, o.dampening = 0.1;
    TAPEGRAD_CHECK_ERROR(SGD({p}, o), "SGD: ", "Nesterov", "momentum 0.9, dampening 0.1");
    o.dampening = 0;
    BOOST_CHECK_NO_THROW(SGD({p}, o));
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_rejects_a_non_positive_or_non_finite_max_norm) {
    Tensor a = param({3.0}), b = param({4.0});
    set_grad(a, {3.0});
    set_grad(b, {4.0});
    // -1 used to flip the gradients' sign, NaN to skip clipping, 0 to zero them.
    TAPEGRAD_CHECK_ERROR(clip_grad_norm({a, b}, -1.0), "clip_grad_norm: ", "max_norm = -1",
                         "expected finite max_norm > 0");
    TAPEGRAD_CHECK_ERROR(clip_grad_norm({a, b}, kNaN), "clip_grad_norm: ", "max_norm = nan");
    TAPEGRAD_CHECK_ERROR(clip_grad_norm({a, b}, 0.0), "clip_grad_norm: ", "max_norm = 0");
    TAPEGRAD_CHECK_ERROR(clip_grad_norm({a, b}, kInf), "clip_grad_norm: ", "max_norm = inf");
    BOOST_CHECK_EQUAL(a.grad().item(), 3.0);  // untouched by the refused calls
    BOOST_CHECK_EQUAL(b.grad().item(), 4.0);
}

BOOST_AUTO_TEST_CASE(schedulers_reject_bad_arguments) {
    SGD sgd({param({1.0})}, SgdOptions{0.1});
    TAPEGRAD_CHECK_ERROR(WarmupLR(sgd, -5), "WarmupLR: ", "warmup_steps = -5", "expected warmup_steps >= 0");
    TAPEGRAD_CHECK_ERROR(WarmupCosineLR(sgd, 100, -1), "WarmupCosineLR: ", "warmup_steps = -1", "expected warmup_steps >= 0");
    TAPEGRAD_CHECK_ERROR(WarmupCosineLR(sgd, 0), "WarmupCosineLR: ", "total_steps = 0", "expected total_steps >= 1");
    TAPEGRAD_CHECK_ERROR(WarmupCosineLR(sgd, 100, 0, -0.5), "WarmupCosineLR: ", "min_lr = -0.5", "expected finite min_lr >= 0");
    TAPEGRAD_CHECK_ERROR(WarmupCosineLR(sgd, 100, 0, kNaN), "WarmupCosineLR: ", "min_lr = nan");
    TAPEGRAD_CHECK_ERROR(StepLR(sgd, 0), "StepLR: ", "step_size = 0", "expected step_size >= 1");
    TAPEGRAD_CHECK_ERROR(StepLR(sgd, 2, kInf), "StepLR: ", "gamma = inf");
    TAPEGRAD_CHECK_ERROR(LinearLR(sgd, 0.0), "LinearLR: ", "start_factor = 0", "expected 0 < start_factor <= 1");
    TAPEGRAD_CHECK_ERROR(LinearLR(sgd, 0.5, 1.5), "LinearLR: ", "end_factor = 1.5", "expected 0 <= end_factor <= 1");
    TAPEGRAD_CHECK_ERROR(LinearLR(sgd, 0.5, 1.0, 0), "LinearLR: ", "total_iters = 0");
    TAPEGRAD_CHECK_ERROR(CosineAnnealingLR(sgd, 0), "CosineAnnealingLR: ", "T_max = 0");
    TAPEGRAD_CHECK_ERROR(LambdaLR(sgd, nullptr), "LambdaLR: ", "lr_lambda is empty");
    TAPEGRAD_CHECK_ERROR(StepLR(sgd, 2, 0.5, -2), "StepLR: ", "last_epoch = -2", "expected last_epoch >= -1");
    // A factor that makes the lr negative is refused by the optimizer's set_lr, and the lr kept.
    TAPEGRAD_CHECK_ERROR(LambdaLR(sgd, [](int64_t) { return -1.0; }), "SGD::set_lr: ", "lr = -0.1");
    BOOST_CHECK_EQUAL(sgd.lr(), 0.1);
}

BOOST_AUTO_TEST_CASE(uniform_rejects_an_empty_or_non_finite_range) {
    Generator gen(1);
    TAPEGRAD_CHECK_ERROR(Tensor::uniform({4}, 1.0, -1.0, gen), "uniform: ", "low = 1, high = -1",
                         "expected finite low <= high");
    TAPEGRAD_CHECK_ERROR(Tensor::uniform({4}, kNaN, 1.0, gen), "uniform: ", "low = nan, high = 1");
    TAPEGRAD_CHECK_ERROR(Tensor::uniform({4}, 0.0, kInf, gen), "uniform: ", "low = 0, high = inf");
    TAPEGRAD_CHECK_ERROR(Tensor::uniform({4}, -1e308, 1e308, gen), "uniform: ", "high = 1e+308");  // high - low overflows
    std::vector<double> same = Tensor::uniform({3}, 2.0, 2.0, gen, DType::Float64).to_vector<double>();
    BOOST_CHECK(same == std::vector<double>(3, 2.0));  // low == high is allowed (PyTorch's rule)
}

// ---- containers -------------------------------------------------------------------------------

// Sequential: parameters named by index as PyTorch's ("0.weight"; the Tanh at 1 has none), forward
// the composition of its modules, its gradient (inputs and every parameter) checked in float64.
BOOST_AUTO_TEST_CASE(sequential_names_forward_and_gradient) {
    Generator gen(11);
    Sequential mlp;
    Linear& first = mlp.push_back(std::make_unique<Linear>(3, 4, gen));
    mlp.push_back(std::make_unique<Tanh>());
    auto inner = std::make_unique<Sequential>();
    inner->push_back(std::make_unique<Linear>(4, 2, gen, false));
    inner->push_back(std::make_unique<ReLU>());
    mlp.push_back(std::move(inner));
    mlp.push_back(std::make_unique<Sigmoid>());
    std::vector<std::string> names;
    for (auto& [name, t] : mlp.named_parameters()) names.push_back(name);
    BOOST_CHECK((names == std::vector<std::string>{"0.weight", "0.bias", "2.0.weight"}));
    BOOST_CHECK_EQUAL(mlp.size(), 4);
    BOOST_CHECK(&mlp[0] == &first);
    BOOST_CHECK(&mlp[-4] == &first);

    mlp.to(DType::Float64);
    Tensor x = input({5, 3}, 12);
    auto& second = dynamic_cast<Sequential&>(mlp[2]);
    auto& projection = dynamic_cast<Linear&>(second[0]);
    Tensor by_hand = sigmoid(relu(projection.forward(tanh(first.forward(x)))));
    BOOST_CHECK(mlp.forward(x).to_vector<double>() == by_hand.to_vector<double>());
    Inputs all = {x};
    for (const Tensor& p : mlp.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return mlp.forward(x); }, all);
    Sequential empty;
    BOOST_CHECK(empty.forward(x).same(x));  // no modules: the identity
}

BOOST_AUTO_TEST_CASE(module_list_holds_indexes_and_iterates) {
    Generator gen(13);
    ModuleList<Linear> layers;
    for (int64_t width : {2, 3, 4}) layers.push_back(std::make_unique<Linear>(width, width + 1, gen));
    BOOST_CHECK_EQUAL(layers.size(), 3);
    BOOST_CHECK(layers[1].weight.shape() == (Shape{4, 3}));
    BOOST_CHECK(layers[-1].weight.shape() == (Shape{5, 4}));  // from the end, as PyTorch's list[-1]
    int64_t count = 0;
    for (auto& layer : layers) BOOST_CHECK_EQUAL(layer->weight.shape()[1], 2 + count++);
    BOOST_CHECK_EQUAL(count, 3);
    BOOST_CHECK_EQUAL(layers.named_parameters()[4].first, "2.weight");
    BOOST_CHECK_EQUAL(layers.num_parameters(), 3 * 2 + 3 + 4 * 3 + 4 + 5 * 4 + 5);
    TAPEGRAD_CHECK_ERROR(layers[3], "ModuleList: ", "index 3 is out of range for 3 modules", "expected -3 <= index < 3");
    TAPEGRAD_CHECK_ERROR(layers[-4], "ModuleList: ", "index -4");
    ModuleList<> any;  // modules of any type
    any.push_back(std::make_unique<LayerNorm>(3));
    any.push_back(std::make_unique<Tanh>());
    BOOST_CHECK_EQUAL(any.named_parameters()[0].first, "0.weight");
    BOOST_CHECK(dynamic_cast<Tanh*>(&any[1]) != nullptr);
}

// ---- state_dict ---------------------------------------------------------------------------------

// state_dict: the parameters by name, detached handles on their storage (PyTorch's references).
BOOST_AUTO_TEST_CASE(state_dict_names_and_references) {
    Generator gen(14);
    Net net(gen);
    StateDict dict = net.state_dict();
    auto named = net.named_parameters();
    BOOST_REQUIRE_EQUAL(dict.size(), named.size());
    for (size_t i = 0; i < dict.size(); ++i) {
        BOOST_CHECK_EQUAL(dict[i].first, named[i].first);
        BOOST_CHECK(!dict[i].second.requires_grad());
        BOOST_CHECK(dict[i].second.raw_data() == named[i].second.raw_data());
    }
    // A step changes the parameter in place, and the dict's handle shows it.
    SGD sgd(net.parameters(), SgdOptions{0.5});
    const std::vector<float> before = dict[4].second.to_vector<float>();
    backward(mean(net.forward(Tensor::randn({2, 3}, gen))));
    sgd.step();
    BOOST_CHECK(dict[4].second.to_vector<float>() == net.head.weight.to_vector<float>());
    BOOST_CHECK(dict[4].second.to_vector<float>() != before);
}

// load_state_dict copies into the parameters in place: the same tensors (an optimizer made before
// trains the loaded model), the other model's values, and then the same steps as that model.
BOOST_AUTO_TEST_CASE(load_state_dict_copies_in_place) {
    Generator gen_a(15), gen_b(16);
    Net a(gen_a), b(gen_b);
    Adam adam_b(b.parameters(), AdamOptions{0.1});
    const Tensor weight_before = b.head.weight;
    const IncompatibleKeys keys = b.load_state_dict(a.state_dict());
    BOOST_CHECK(keys.missing_keys.empty() && keys.unexpected_keys.empty());
    BOOST_CHECK(b.head.weight.same(weight_before));
    BOOST_CHECK(b.head.weight.raw_data() != a.head.weight.raw_data());  // copied, not shared
    auto pa = a.named_parameters(), pb = b.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) BOOST_CHECK(pa[i].second.to_vector<float>() == pb[i].second.to_vector<float>());
    Adam adam_a(a.parameters(), AdamOptions{0.1});
    Tensor x = Tensor::randn({4, 3}, gen_a);
    for (auto [net, adam] : {std::pair<Net*, Adam*>{&a, &adam_a}, {&b, &adam_b}}) {
        backward(mean(net->forward(x) * net->forward(x)));
        adam->step();
    }
    BOOST_CHECK(a.head.weight.to_vector<float>() == b.head.weight.to_vector<float>());
    b.load_state_dict(b.state_dict());  // its own values: a copy onto itself changes nothing
    BOOST_CHECK(a.head.weight.to_vector<float>() == b.head.weight.to_vector<float>());
}

BOOST_AUTO_TEST_CASE(load_state_dict_strict_and_not) {
    Generator gen(17);
    Net net(gen);
    StateDict dict = net.state_dict();
    dict.erase(dict.begin() + 1);                           // encoder.proj.bias missing
    dict.emplace_back("decoder.weight", Tensor::zeros({2}));  // unexpected
    TAPEGRAD_CHECK_ERROR(net.load_state_dict(dict), "load_state_dict: ", "no tensor for 1 of the model's tensors",
                         "'encoder.proj.bias'", "unexpected keys: 'decoder.weight'");
    // strict = false: the keys come back, the rest is loaded.
    Generator other(18);
    Net source(other);
    StateDict partial = source.state_dict();
    partial.erase(partial.begin());  // encoder.proj.weight missing
    partial.emplace_back("extra", Tensor::zeros({1}));
    const std::vector<float> kept = net.encoder.proj.weight.to_vector<float>();
    IncompatibleKeys keys = net.load_state_dict(partial, /*strict=*/false);
    BOOST_CHECK((keys.missing_keys == std::vector<std::string>{"encoder.proj.weight"}));
    BOOST_CHECK((keys.unexpected_keys == std::vector<std::string>{"extra"}));
    BOOST_CHECK(net.encoder.proj.weight.to_vector<float>() == kept);
    BOOST_CHECK(net.head.weight.to_vector<float>() == source.head.weight.to_vector<float>());
    // A shape or a dtype that differs throws even without strict, and changes nothing.
    StateDict wrong = source.state_dict();
    wrong[4].second = Tensor::zeros({3, 4});
    wrong[0].second = Tensor::zeros({4, 3});
    Net untouched(gen);
    const std::vector<float> proj = untouched.encoder.proj.weight.to_vector<float>();
    TAPEGRAD_CHECK_ERROR(untouched.load_state_dict(wrong, false), "load_state_dict: ", "'head.weight' is [3, 4] float32",
                         "but [2, 4] float32 in the model");
    BOOST_CHECK(untouched.encoder.proj.weight.to_vector<float>() == proj);
    wrong[4].second = Tensor::zeros({2, 4}, DType::Float64);
    TAPEGRAD_CHECK_ERROR(untouched.load_state_dict(wrong, false), "'head.weight' is [2, 4] float64");
}

// A checkpoint of a one-group optimizer loads into the same optimizer with two groups over the same
// parameters (the state is named by the parameter's index over all groups, as before groups).
BOOST_AUTO_TEST_CASE(checkpoint_of_one_group_loads_into_two_groups) {
    Generator gen(19);
    Net net(gen);
    Adam adam(net.parameters());
    Tensor x = Tensor::randn({5, 3}, gen);
    backward(mean(net.forward(x)));
    adam.step();
    const std::string path = temp_path("groups.safetensors");
    save_checkpoint(path, net, &adam);
    Generator other(20);
    Net restored(other);
    std::vector<Tensor> params = restored.parameters();
    Adam grouped({params.begin(), params.begin() + 2});
    grouped.add_param_group({{params.begin() + 2, params.end()}, 1e-4});
    load_checkpoint(path, restored, &grouped);
    auto sa = adam.state(), sb = grouped.state();
    BOOST_REQUIRE_EQUAL(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i) {
        BOOST_CHECK_EQUAL(sa[i].first, sb[i].first);
        BOOST_CHECK(sa[i].second->to_vector<float>() == sb[i].second->to_vector<float>());
    }
    BOOST_CHECK_EQUAL(grouped.steps(), 1);
    std::remove(path.c_str());
}

// ---- checkpoints -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(checkpoint_round_trip_with_optimizer) {
    Generator gen(6);
    Net net(gen);
    Adam adam(net.parameters());
    Tensor x = Tensor::randn({5, 3}, gen);
    for (int i = 0; i < 3; ++i) {
        adam.zero_grad();
        backward(mean(net.forward(x)));
        adam.step();
    }
    std::string path = temp_path("round_trip.safetensors");
    save_checkpoint(path, net, &adam);

    Generator other(99);
    Net restored(other);
    Adam restored_adam(restored.parameters());
    load_checkpoint(path, restored, &restored_adam);
    auto a = net.named_parameters(), b = restored.named_parameters();
    for (size_t i = 0; i < a.size(); ++i) BOOST_CHECK(a[i].second.to_vector<float>() == b[i].second.to_vector<float>());
    BOOST_CHECK_EQUAL(restored_adam.steps(), 3);
    auto sa = adam.state(), sb = restored_adam.state();
    for (size_t i = 0; i < sa.size(); ++i) BOOST_CHECK(sa[i].second->to_vector<float>() == sb[i].second->to_vector<float>());
    // One more identical step on both gives identical parameters.
    for (auto [n, o] : {std::pair<Net*, Adam*>{&net, &adam}, {&restored, &restored_adam}}) {
        o->zero_grad();
        backward(mean(n->forward(x)));
        o->step();
    }
    BOOST_CHECK(net.head.weight.to_vector<float>() == restored.head.weight.to_vector<float>());
    std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(checkpoint_file_layout) {
    std::string path = temp_path("layout.safetensors");
    save_tensors(path, {{"w", Tensor::from_vector(std::vector<float>{1, 2, 3}, {3})}});
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
    BOOST_CHECK_EQUAL(n % 8, 0u);
    std::string header(bytes.begin() + 8, bytes.begin() + 8 + n);
    BOOST_CHECK_MESSAGE(header.find("\"w\":{\"data_offsets\":[0,12],\"dtype\":\"F32\",\"shape\":[3]}") != std::string::npos, header);
    BOOST_CHECK_EQUAL(bytes.size(), 8 + n + 12);
    float first;
    std::memcpy(&first, bytes.data() + 8 + n, 4);
    BOOST_CHECK_EQUAL(first, 1.0f);
    std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(checkpoint_errors_name_file_and_parameter) {
    Generator gen(7);
    Net net(gen);
    std::string path = temp_path("errors.safetensors");
    save_checkpoint(path, net);

    // Truncated: cut the file in the middle of its data.
    std::ifstream in(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string cut = temp_path("cut.safetensors");
    std::ofstream(cut, std::ios::binary) << all.substr(0, all.size() - 10);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "load_tensors", cut.c_str(), "truncated");
    std::ofstream(cut, std::ios::binary) << all.substr(0, 5);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "truncated");
    // Corrupt JSON: the first key's opening quote (byte 12 sat inside a key, which is still JSON).
    std::string bad = all;
    bad[9] = '#';
    std::ofstream(cut, std::ios::binary) << bad;
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "corrupt", cut.c_str());

    // Missing parameter, unexpected parameter, shape mismatch.
    save_tensors(cut, {{"encoder.proj.weight", net.encoder.proj.weight}});
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "load_checkpoint", cut.c_str(), "encoder.proj.bias");
    auto extra = net.named_parameters();
    extra.emplace_back("decoder.weight", Tensor::zeros({2}));
    save_tensors(cut, extra);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "unexpected", "decoder.weight");
    auto wrong = net.named_parameters();
    wrong[4].second = Tensor::zeros({3, 4});
    save_tensors(cut, wrong);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "head.weight", "[3, 4]", "[2, 4]");
    auto wrong_dtype = net.named_parameters();
    wrong_dtype[4].second = Tensor::zeros({2, 4}, DType::Float64);
    save_tensors(cut, wrong_dtype);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(cut, net), "head.weight", "float64", "float32");
    TAPEGRAD_CHECK_ERROR(load_checkpoint(temp_path("missing.safetensors"), net), "cannot open");

    // Atomic save: a failed write leaves neither a partial target nor a temporary file behind.
    TAPEGRAD_CHECK_ERROR(save_tensors("/nonexistent-dir/x.safetensors", {{"a", Tensor::zeros({1})}}), "cannot create");
    std::remove(path.c_str());
    std::remove(cut.c_str());
}
