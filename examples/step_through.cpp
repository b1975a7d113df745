// Step through backward by hand. Builds a small model, runs it forward, then runs backward one
// tape record at a time while you watch: each step prints the op, its scope, its backward rule
// and the numbers going in and out. The models run their reference schedule (models/schedule.h):
// their tape reads like their equations.
//
//   build/examples/step_through [--model lstm|prlstm|neuron]
//
// Commands (one per line; stdin is read the same way when it is not a terminal, so a script or
// a test can drive it):
//   <Enter>        one backward step            n N        N steps
//   p [prefix]     print the tape (records in scopes starting with prefix), with the gradients so far
//   d FILE [prefix]  write the tape (or its records under prefix) as a Graphviz graph to FILE
//   j SCOPE | j K  run backward until the next record is in SCOPE / has index K or below (a SCOPE
//                  no record still to run has runs nothing: it names the nearest scope instead)
//   g K            the gradient accumulated so far for record K's output
//   f              finish: run the rest and print the parameters' gradients (then p, d, g still work)
//   q              quit
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <iostream>
#include <sstream>

#include "autograd/dot_export.h"
#include "core/atomic_file.h"
#include "autograd/stepper.h"
#include "autograd/tape_print.h"
#include "models/pr_lstm.h"
#include "models/recurrent.h"
#include "tapegrad.h"

using namespace tapegrad;

namespace {
std::string values(const Tensor& t) {
    if (!t.defined()) return "(none)";
    std::vector<double> v = t.to_double_vector();
    if (v.size() > 8) return to_string(t.shape()) + " " + value_stats(t);
    std::string out = "[";
    for (size_t k = 0; k < v.size(); ++k) out += fmt::format("{}{:.4f}", k ? ", " : "", v[k]);
    return out + "]";
}

using Parameters = std::vector<std::pair<std::string, Tensor>>;

// A tensor as the learner knows it: a parameter's name; a state or gate by its label and step
// ("c_2" for the last record in scope ".../t=2/c", "forget_gate_3", "refine0/h_1" at tree level
// 1); else its tape index ("#57") or, for a constant, "const".
std::string tensor_name(const Tensor& x, const Parameters& parameters) {
    for (const auto& [name, p] : parameters)
        if (p.same(x)) return name;
    if (x.is_leaf()) return "const";
    const int64_t r = x.impl().record;
    const auto& records = active_tape().records();
    const std::string& scope = records[r].scope;
    const std::string cluster = step_cluster(scope);
    const bool last_in_scope = r + 1 == int64_t(records.size()) || records[r + 1].scope != scope;
    if (cluster.empty() || scope.size() == cluster.size() || !last_in_scope) return "#" + std::to_string(r);
    const std::string label = scope.substr(cluster.size() + 1);  // "c", or "refine0/h" inside a PR-LSTM merge
    return label + "_" + cluster.substr(cluster.rfind('=') + 1);
}

// The record's formula with the names of its tensors: each input's symbol (the name its term
// gives it, "dL/da += ...": formula_inputs) and y, the output, replaced by the name of the tensor
// the record holds there. "dL/da += dL/dy ⊙ b" becomes "dL/dc_2 += dL/d#41 ⊙ forget_gate_3".
std::string named_formula(const BackwardStep& s, const Parameters& parameters) {
    const std::vector<std::string> symbols = formula_inputs(s.formula);
    auto name_of = [&](const std::string& symbol) -> std::string {
        if (symbol == "y") return tensor_name(s.record->output, parameters);
        for (size_t i = 0; i < symbols.size() && i < s.record->inputs.size(); ++i)
            if (symbols[i] == symbol) return tensor_name(s.record->inputs[i], parameters);
        return symbol;  // not a tensor of this record (a scalar, an index, a sum's variable)
    };
    auto is_word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    std::string out;
    const std::string& f = s.formula;
    for (size_t i = 0; i < f.size();) {
        if (!is_word_char(f[i])) {
            out += f[i++];
            continue;
        }
        size_t end = i;
        while (end < f.size() && is_word_char(f[end])) ++end;
        std::string word = f.substr(i, end - i);
        // "dL/dh" reads as the word "dh" after "dL/": the symbol is what follows its d.
        const bool after_d = i >= 3 && f.compare(i - 3, 3, "dL/") == 0 && word[0] == 'd';
        out += after_d ? "d" + name_of(word.substr(1)) : name_of(word);
        i = end;
    }
    return out;
}

void print_step(const BackwardStep& s, const Parameters& parameters) {
    std::cout << fmt::format("#{} {:<9} {}\n    {}\n    dL/d{} = {}\n", s.index, s.op, s.scope,
                             named_formula(s, parameters), tensor_name(s.record->output, parameters),
                             values(s.grad_output));
    for (size_t i = 0; i < s.added.size(); ++i)
        if (s.added[i].defined())
            std::cout << fmt::format("    dL/d{} += {}\n", tensor_name(s.record->inputs[i], parameters),
                                     values(s.added[i]));
}

// A 4-step LSTM, H = 2, on one sequence of 3 features (LstmCell::step, models/lstm.cpp); the loss
// reads the last h.
Tensor lstm_loss(Generator& gen, Parameters& parameters,
                 std::unique_ptr<Module>& model) {
    auto cell = std::make_unique<LstmCell>(3, 2, gen);
    cell->to(DType::Float64);
    Tensor x = Tensor::randn({1, 4, 3}, gen, DType::Float64);
    Tensor loss;
    {
        NameScope scope("lstm");
        RecurrentOutput out = run_recurrent(*cell, x, {}, {}, Schedule::Reference);
        loss = sum(out.last[0].h * Tensor::from_vector(std::vector<double>{1.0, -0.5}, {1, 2}));
    }
    parameters = cell->named_parameters();
    model = std::move(cell);
    return loss;
}

// micrograd's neuron, in scalars: o = tanh(x1 w1 + x2 w2 + b). Every leaf is a "parameter" here,
// so each gets its gradient: do/dx1 = -1.5, do/dw1 = 1, do/dx2 = 0.5, do/dw2 = 0 (o = 1/sqrt(2)).
Tensor expr_loss(Generator&, Parameters& parameters, std::unique_ptr<Module>&) {
    for (const auto& [name, value] : std::vector<std::pair<std::string, double>>{
             {"x1", 2.0}, {"w1", -3.0}, {"x2", 0.0}, {"w2", 1.0}, {"b", 6.8813735870195432}})
        parameters.push_back({name, Tensor::scalar(value, DType::Float64).set_requires_grad()});
    auto p = [&](size_t k) { return parameters[k].second; };
    NameScope scope("neuron");
    Tensor x1w1 = p(0) * p(1);  // one statement per op: the tape order is the reading order
    Tensor x2w2 = p(2) * p(3);
    Tensor n = x1w1 + x2w2 + p(4);
    return tanh(n);
}

// A PR-LSTM over 5 leaves (tokens of a 3-letter vocabulary), H = 2; cross-entropy at the last
// prefix (PrLstm::reference_prefixes, models/pr_lstm.cpp).
Tensor prlstm_loss(Generator& gen, Parameters& parameters,
                   std::unique_ptr<Module>& model) {
    auto net = std::make_unique<PrLstm>(4, 2, 3, gen);
    net->to(DType::Float64);
    net->schedule = Schedule::Reference;
    std::vector<double> one_hot(5 * 4, 0.0);
    const int tokens[5] = {1, 0, 2, 2, 1};
    for (int t = 0; t < 5; ++t) one_hot[t * 4 + tokens[t]] = 1.0;
    Tensor x = Tensor::from_vector(one_hot, {1, 5, 4});
    Tensor loss;
    {
        NameScope scope("prlstm");
        Tensor logits = net->forward(x);
        Tensor last = reshape(slice(logits, 1, 4, 5), {1, 3});
        loss = cross_entropy(last, Tensor::from_vector(std::vector<int64_t>{2}, {1}));
    }
    parameters = net->named_parameters();
    model = std::move(net);
    return loss;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Step through backward one tape record at a time"};
    std::string model_name = "lstm";
    app.add_option("--model", model_name, "lstm (4 steps), prlstm (5 leaves) or neuron (micrograd's scalar neuron)")
        ->check(CLI::IsMember({"lstm", "prlstm", "neuron"}));
    CLI11_PARSE(app, argc, argv);

    try {
        Generator gen(7);
        Parameters parameters;
        std::unique_ptr<Module> model;
        Tensor loss = model_name == "lstm"     ? lstm_loss(gen, parameters, model)
                      : model_name == "prlstm" ? prlstm_loss(gen, parameters, model)
                                               : expr_loss(gen, parameters, model);
        const Tape& tape = active_tape();
        std::cout << fmt::format("{}: {} records on the tape, loss = {:.6f}\n", model_name, tape.size(), loss.item());
        std::cout << "Enter: step   n N: N steps   p [prefix]: tape   d FILE [prefix]: DOT   j SCOPE|K: jump   "
                     "g K: gradient   f: finish   q: quit\n";

        const bool interactive = isatty(STDIN_FILENO);
        BackwardStepper stepper(loss);
        bool finished = false;
        auto finish_and_print = [&] {
            if (finished) return;
            finished = true;
            stepper.finish();
            std::cout << "backward done; parameter gradients:\n";
            for (const auto& [name, p] : parameters) std::cout << fmt::format("  {:<22} {}\n", name, values(p.grad()));
        };
        std::string line;
        while (true) {
            if (interactive)
                std::cout << (stepper.done() ? std::string("done > ") : fmt::format("next #{} > ", stepper.next()))
                          << std::flush;
            if (!std::getline(std::cin, line)) break;
            if (!interactive) std::cout << "> " << line << "\n";
            std::istringstream words(line);
            std::string command, argument;
            words >> command >> argument;
            if ((command.empty() || command == "n" || command == "j") && stepper.done()) {
                std::cout << (finished ? "backward is done: p, d, g or q\n"
                                       : "every record has run: f hands the parameters their gradients\n");
            } else if (command.empty()) {
                print_step(stepper.step(), parameters);
            } else if (command == "n") {
                for (int k = argument.empty() ? 1 : std::stoi(argument); k > 0 && !stepper.done(); --k)
                    print_step(stepper.step(), parameters);
            } else if (command == "p") {
                std::cout << format_tape(tape, argument);
            } else if (command == "d") {
                std::string prefix;
                words >> prefix;
                if (argument.empty()) {
                    std::cout << "d needs a file name: d FILE [prefix]\n";
                    continue;
                }
                DotOptions dot;
                dot.scope_prefix = prefix;
                for (const auto& [name, p] : parameters) dot.names.push_back({p, name});
                write_file_atomically(argument, {to_dot(tape, dot)}, "step_through");
                std::cout << fmt::format("wrote {} (render: dot -Tsvg {} -o tape.svg)\n", argument, argument);
            } else if (command == "j") {
                const bool is_index = !argument.empty() && argument.find_first_not_of("0123456789") == std::string::npos;
                try {
                    if (is_index) stepper.run_to(int64_t(std::stoll(argument)));
                    else stepper.run_to(argument);
                } catch (const Error& e) {  // a scope no record still to run has: nothing ran
                    std::cout << e.what() << "\n";
                    continue;
                }
                std::cout << (stepper.done() ? std::string("done\n")
                                             : fmt::format("next: #{} {} {}\n", stepper.next(),
                                                           stepper.pass().record(stepper.next()).op,
                                                           stepper.pass().record(stepper.next()).scope));
            } else if (command == "g") {
                const bool is_index = !argument.empty() && argument.find_first_not_of("0123456789") == std::string::npos;
                const int64_t k = is_index ? std::stoll(argument) : -1;
                if (k < 0 || k >= int64_t(tape.size())) {
                    std::cout << "no record #" << argument << "\n";
                } else {
                    // Complete once record k has run (the stepper retains it), else what has arrived so far.
                    const Tensor& output = tape.records()[k].output;
                    const bool complete = output.grad().defined();
                    std::cout << fmt::format("dL/d#{} {} = {}\n", k, complete ? "(complete)" : "(so far)",
                                             values(complete ? output.grad() : stepper.pass().in_flight(output)));
                }
            } else if (command == "f") {
                finish_and_print();
            } else if (command == "q") {
                return 0;
            } else {
                std::cout << "unknown command '" << command << "'\n";
            }
        }
        finish_and_print();
    } catch (const std::exception& e) {
        std::cerr << "step_through: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
