// How much gradient reaches a token far from the loss? Measured on the tape, model by model.
//
// Task: sequences of T one-hot tokens (vocabulary 8); the label is the FIRST token (4 classes)
// and every later token is noise, so the loss, which reads only the last position, depends on
// the first tokens alone. Models, all with the same hidden size H, float64 (so that tiny norms
// do not underflow): LSTM, GRU, QL-LSTM with its additive block skip, QL-LSTM without it (no
// HGR-ASC), and PR-LSTM. Each runs forward on one batch; gradient_flow() then reports
// ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) for every step t, found on the tape by the models' labels. For
// PR-LSTM the state of token t is its leaf, level 0 of the tree; the report also gives every
// node of every tree level. Every model runs its reference schedule (models/schedule.h): the
// states measured are those of the equations, one step (one prefix) at a time.
//
// Outputs (in --out, default out/gradient_flow/, which git ignores): for each T and phase ("init", and "trained" after
// --train-steps N > 0 Adam steps on fresh batches):
//   flow_T<T>_<phase>.csv    model,series,step,position,distance,norm (distance = T-1-t)
//   flow_T<T>_<phase>.png    log10 ‖∂L/∂h_t‖ against the distance from the loss, one curve per model
//   tree_T<T>_<phase>.png    PR-LSTM: log10 of each tree level's node norms against the number of
//                            merges between the level and the loss
// The plots are drawn by gnuplot from a generated script (<name>.gp beside the CSV).
//
//   build/examples/gradient_flow                       # T = 256 and 1024, at initialisation
//   build/examples/gradient_flow --train-steps 100     # also after 100 training steps
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/blas_info.h"
#include "autograd/grad_flow.h"
#include "core/atomic_file.h"
#include "models/layers.h"
#include "models/optim.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {

constexpr int64_t kVocab = 8, kClasses = 4, kInput = kVocab + 1;  // one-hot with PR-LSTM's empty token

struct Options {
    std::vector<int64_t> lengths = {256, 1024};
    int64_t hidden = 32, batch = 4;
    int train_steps = 0;
    double lr = 3e-3;
    uint64_t seed = 1;
    std::string out = "out/gradient_flow";
};

struct Batch {
    Tensor x;       // [B, T, V+1] float64 one-hot
    Tensor labels;  // Int64 [B]: the first token
};

Batch make_batch(std::mt19937_64& rng, int64_t batch, int64_t steps) {
    std::vector<double> one_hot(size_t(batch * steps * kInput), 0.0);
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < steps; ++t) {
            const int64_t token = t == 0 ? int64_t(rng() % kClasses) : int64_t(rng() % kVocab);
            if (t == 0) labels[size_t(b)] = token;
            one_hot[size_t((b * steps + t) * kInput + token)] = 1.0;
        }
    return {Tensor::from_vector(one_hot, {batch, steps, kInput}), Tensor::from_vector(labels, {batch})};
}

// One model: its parameters, and a forward pass that records under NameScope(scope) and returns
// the logits [B, C] of the last position.
struct Model {
    std::string name, scope;
    std::vector<std::string> state_names;  // labelled states to report: "h", "c"
    std::string state_prefix;              // where its steps' labels live on the tape
    std::function<Tensor(const Tensor& x)> logits;
    // PR-LSTM: its states are tree levels [B, nodes, H]; token t's state is node t of level 0.
    bool tree = false;
    std::vector<Tensor> parameters;
    std::vector<std::shared_ptr<Module>> modules;  // keeps them alive
};

Tensor last_position(const Tensor& x) {  // [B, T, ...] -> [B, ...]
    return squeeze(slice(x, 1, x.shape()[1] - 1, x.shape()[1]), 1);
}

Model make_model(std::string name, std::string scope, std::vector<std::string> state_names, std::string state_prefix,
                 std::function<Tensor(const Tensor&)> logits, std::vector<std::shared_ptr<Module>> modules,
                 bool tree = false) {
    Model m{std::move(name),   std::move(scope), std::move(state_names), std::move(state_prefix),
            std::move(logits), tree,             {},                     {}};
    for (auto& module : modules) {
        module->to(DType::Float64);
        for (const Tensor& p : module->parameters()) m.parameters.push_back(p);
    }
    m.modules = std::move(modules);
    return m;
}

std::vector<Model> make_models(int64_t hidden, Generator& gen) {
    std::vector<Model> models;
    for (CellType type : {CellType::LSTM, CellType::GRU}) {
        const bool lstm = type == CellType::LSTM;
        auto rnn = std::make_shared<Recurrent>(type, kInput, hidden, 1, gen);
        rnn->schedule = Schedule::Reference;
        auto head = std::make_shared<Linear>(hidden, kClasses, gen);
        std::string scope = lstm ? "lstm" : "gru";
        models.push_back(make_model(
            lstm ? "LSTM" : "GRU", scope, lstm ? std::vector<std::string>{"h", "c"} : std::vector<std::string>{"h"},
            scope + "/layer0/",
            [rnn, head, scope](const Tensor& x) {
                return head->forward(in_scope(scope, [&] { return rnn->forward(x).last[0].h; }));
            },
            {rnn, head}));
    }
    for (bool skip : {true, false}) {
        QlLstmOptions options;
        options.hgr = skip;  // without HGR-ASC there is no block summary and no skip into c
        auto ql = std::make_shared<QlLstm>(kInput, hidden, gen, options);
        ql->schedule = Schedule::Reference;
        auto head = std::make_shared<Linear>(hidden, kClasses, gen);
        std::string scope = skip ? "qllstm" : "qllstm_noskip";
        models.push_back(make_model(
            skip ? "QL-LSTM" : "QL-LSTM no skip", scope, {"h", "c"}, scope + "/",
            [ql, head, scope](const Tensor& x) {
                return head->forward(in_scope(scope, [&] { return ql->forward(x).last[0].h; }));
            },
            {ql, head}));
    }
    auto pr = std::make_shared<PrLstm>(kInput, hidden, kClasses, gen);
    pr->schedule = Schedule::Reference;
    models.push_back(make_model(
        "PR-LSTM", "prlstm", {"h", "c"}, "prlstm/level=",
        [pr](const Tensor& x) { return last_position(in_scope("prlstm", [&] { return pr->forward(x); })); }, {pr},
        /*tree=*/true));
    return models;
}

// One model's report on one batch: the norms, and the loss.
struct Flow {
    GradFlowReport report;
    double loss;
};

Flow measure(const Model& model, const Batch& batch) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor loss = cross_entropy(model.logits(batch.x), batch.labels);
    // A tree: one norm per node (axis 1 of a level's [B, nodes, H]); the others: one per step.
    const int position_axis = model.tree ? 1 : -1;
    std::vector<GradFlowSeries> states = labelled_states(tape, model.state_prefix, model.state_names, position_axis);
    Flow flow{gradient_flow(loss, states), loss.item()};
    for (Tensor p : model.parameters) p.zero_grad();  // measuring is not training
    return flow;
}

void train(const Model& model, int steps, double lr, std::mt19937_64& rng, int64_t batch, int64_t length) {
    AdamOptions options;
    options.lr = lr;
    Adam adam(model.parameters, options);
    for (int step = 1; step <= steps; ++step) {
        const Batch b = make_batch(rng, batch, length);
        for (Tensor p : model.parameters) p.zero_grad();
        Tensor loss = cross_entropy(model.logits(b.x), b.labels);
        backward(loss);
        adam.step();
        if (step == steps || step % 25 == 0)
            std::printf("    %-16s step %4d  loss %.4f\n", model.name.c_str(), step, loss.item());
    }
}

// The state of token t: h_t for the recurrent models, PR-LSTM's leaf (level 0, node t).
std::vector<double> token_norms(const Model& model, const GradFlowReport& report, int64_t length) {
    std::vector<double> norms(size_t(length), 0.0);
    for (size_t e = 0; e < report.norms[0].size(); ++e) {
        if (model.tree) {
            if (report.steps[0][e] == "level=0") norms[size_t(report.positions[0][e])] = report.norms[0][e];
        } else {
            norms[e] = report.norms[0][e];
        }
    }
    return norms;
}

void write_text(const std::string& path, const std::string& text) { write_file_atomically(path, {text}, "gradient_flow"); }

// Runs gnuplot on a script written beside the outputs; the script draws into <png>.tmp, which is
// then renamed over <png>, so a reader never sees half a picture.
void plot(const std::string& script_path, const std::string& script, const std::string& png) {
    write_text(script_path, "set terminal pngcairo noenhanced size 1200,600 font 'DejaVu Sans,10'\nset output '" + png +
                                ".tmp'\n" + script + "unset output\n");
    const std::string command = "gnuplot '" + script_path + "'";
    if (std::system(command.c_str()) != 0) fail("gradient_flow", "'{}' failed (is gnuplot installed? scripts/setup.sh)", command);
    if (std::rename((png + ".tmp").c_str(), png.c_str()) != 0) fail("gradient_flow", "cannot rename {}.tmp to {}", png, png);
}

void report(const std::vector<Model>& models, const std::vector<Flow>& flows, int64_t length,
            const std::string& phase, const Options& options) {
    const std::string stem = fmt::format("{}/flow_T{}_{}", options.out, length, phase);
    std::string csv = "model,series,step,position,distance,norm\n";
    for (size_t m = 0; m < models.size(); ++m) {
        const GradFlowReport& r = flows[m].report;
        for (size_t s = 0; s < r.names.size(); ++s)
            for (size_t e = 0; e < r.norms[s].size(); ++e) {
                // Distance from the loss in tokens: T-1-t for step "t=<t>" or for leaf node t.
                const std::string& step = r.steps[s][e];
                int64_t distance = -1;
                if (step.rfind("t=", 0) == 0) distance = length - 1 - std::stoll(step.substr(2));
                else if (step == "level=0") distance = length - 1 - r.positions[s][e];
                csv += fmt::format("{},{},{},{},{},{:.9g}\n", models[m].name, r.names[s], step, r.positions[s][e],
                                   distance, r.norms[s][e]);
            }
    }
    write_text(stem + ".csv", csv);

    // The flow plot: one curve per model, h (or the PR-LSTM leaf) against distance.
    std::string curves;
    for (size_t m = 0; m < models.size(); ++m) {
        const std::string series = models[m].tree ? models[m].name + " (leaf h, log2 T merges)" : models[m].name + "  h_t";
        curves += fmt::format("{}'{}.csv' using (strcol(1) eq '{}' && strcol(2) eq 'h' && $5 >= 0 ? $5 : NaN):"
                              "(log10($6)) with lines lw 2 title '{}'",
                              curves.empty() ? "plot " : ", \\\n     ", stem, models[m].name, series);
    }
    // Two panels: the whole sequence, and the 80 tokens nearest the loss (QL-LSTM's blocks of 16).
    plot(stem + ".gp",
         fmt::format("set datafile separator ','\nset grid\nset key bottom left\n"
                     "set multiplot layout 1,2 title 'Gradient reaching token t from a loss at the last position "
                     "(T = {}, H = {}, {})'\n"
                     "set xlabel 'distance from the loss, T - 1 - t (tokens)'\nset ylabel 'log10 ||dL/dh_t||'\n"
                     "set xrange [0:{}]\n{}\nset xrange [0:80]\nset xtics 16\nset yrange [-16:0]\nunset key\n"
                     "set title 'the 80 tokens nearest the loss'\nreplot\nunset multiplot\n",
                     length, options.hidden, phase == "init" ? "at initialisation" : "after training", length - 1,
                     curves),
         stem + ".png");

    // The tree plot: PR-LSTM's node norms per level, against the levels between the node and the
    // top level. For T = 2^k the loss reads the root, so that is the number of merges to the loss.
    const std::string tree = fmt::format("{}/tree_T{}_{}", options.out, length, phase);
    const int64_t depth = int64_t(std::log2(double(length)));
    const bool perfect = (int64_t(1) << depth) == length;
    const std::string title =
        fmt::format("PR-LSTM: gradient at each tree node (T = {}, {}){}", length,
                    phase == "init" ? "at initialisation" : "after training",
                    perfect ? fmt::format("; every leaf is {} merges from the loss", depth) : std::string());
    plot(tree + ".gp",
         fmt::format("set datafile separator ','\nset grid\nset key top left\nset title '{}'\n"
                     "set xlabel '{} ({} - level)'\nset ylabel 'log10 ||dL/dh|| of a node'\n"
                     "plot '{}.csv' using (strcol(1) eq 'PR-LSTM' && strcol(2) eq 'h' ? {} - real(strcol(3)[7:]) : NaN):"
                     "(log10($6)) with points pt 7 ps 0.6 title 'h of a node', \\\n"
                     "     '{}.csv' using (strcol(1) eq 'PR-LSTM' && strcol(2) eq 'c' ? {} - real(strcol(3)[7:]) + 0.15 : NaN):"
                     "(log10($6)) with points pt 6 ps 0.6 title 'c of a node (shifted right)'\n",
                     title, perfect ? "merges between the node and the loss" : "levels below the top level", depth,
                     stem, depth, stem, depth),
         tree + ".png");

    // A few numbers for the terminal.
    std::vector<int64_t> distances;
    for (int64_t d : {0, 15, 16, 63, 64, 255})
        if (d < length - 1) distances.push_back(d);
    distances.push_back(length - 1);
    std::string header;
    for (int64_t d : distances) header += fmt::format(" {:>7}", d);
    std::printf("  T = %lld, %s: log10 ||dL/dh_t|| at distance T-1-t =%s  (the last is the first token)\n",
                (long long)length, phase.c_str(), header.c_str());
    for (size_t m = 0; m < models.size(); ++m) {
        std::vector<double> norms = token_norms(models[m], flows[m].report, length);
        std::string row;
        for (int64_t d : distances) row += fmt::format(" {:>7.2f}", std::log10(norms[size_t(length - 1 - d)]));
        std::printf("    %-16s%s   (loss %.4f)\n", models[m].name.c_str(), row.c_str(), flows[m].loss);
    }
    std::printf("  wrote %s.{csv,png}, %s.png\n", stem.c_str(), tree.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Gradient flow through LSTM, GRU, QL-LSTM (with and without its skip) and PR-LSTM: "
                 "log10 ||dL/dh_t|| against the distance from the loss, as CSV and PNG (gnuplot)"};
    Options options;
    app.add_option("--lengths", options.lengths, "sequence lengths T")->delimiter(',')->check(CLI::Range(2, 1 << 16));
    app.add_option("--hidden", options.hidden, "hidden size H of every model")->check(CLI::Range(1, 4096));
    app.add_option("--batch", options.batch, "sequences per batch")->check(CLI::Range(1, 4096));
    app.add_option("--train-steps", options.train_steps, "Adam steps before a second report (0: none)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--lr", options.lr, "Adam learning rate")->check(CLI::PositiveNumber);
    app.add_option("--seed", options.seed, "seed of weights and data");
    app.add_option("--out", options.out, "output folder (created if missing)");
    CLI11_PARSE(app, argc, argv);
    use_fast_blas_kernels(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show at once, also through a pipe

    try {
        std::filesystem::create_directories(options.out);
        std::printf("%s\nH = %lld, B = %lld, float64; label = first token, loss at the last position\n",
                    blas_summary().c_str(), (long long)options.hidden, (long long)options.batch);
        for (int64_t length : options.lengths) {
            Generator gen(options.seed);
            std::vector<Model> models = make_models(options.hidden, gen);
            std::mt19937_64 rng(options.seed);
            const Batch batch = make_batch(rng, options.batch, length);
            std::vector<Flow> flows;
            for (const Model& m : models) flows.push_back(measure(m, batch));
            report(models, flows, length, "init", options);
            if (options.train_steps == 0) continue;
            std::printf("  training %d steps at T = %lld\n", options.train_steps, (long long)length);
            flows.clear();
            for (const Model& m : models) {
                train(m, options.train_steps, options.lr, rng, options.batch, length);
                flows.push_back(measure(m, batch));
            }
            report(models, flows, length, "trained", options);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gradient_flow: %s\n", e.what());
        return 1;
    }
    return 0;
}
