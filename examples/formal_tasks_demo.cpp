// Prints a few sequences of each of the 15 formal-language tasks (data/formal_tasks.h): the input
// tokens, the target classes and the accuracy mask, so you can see what a model must learn.
//   build/examples/formal_tasks_demo [length] [sequences] [seed]      (defaults: 8 3 0; --help)
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>

#include "data/formal_tasks.h"
#include "train/option_checks.h"

using namespace tapegrad;
using namespace tapegrad::data;

int main(int argc, char** argv) {
    int64_t length = 8, sequences = 3;
    uint64_t seed = 0;
    CLI::App app{"One batch of each of the 15 formal-language tasks: inputs, targets, accuracy masks"};
    app.add_option("length", length, "the input length")->check(at_least(1))->capture_default_str();
    app.add_option("sequences", sequences, "sequences per task")->check(at_least(1))->capture_default_str();
    app.add_option("seed", seed, "the generator's seed")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        for (FormalTask task : all_formal_tasks()) {
            Generator gen(seed);
            FormalBatch batch = generate_batch(task, sequences, length, gen);
            int64_t in_len = batch.inputs.size(1), out_len = batch.targets.size(1);
            fmt::print("{} (V = {}, O = {}, input length {}, L_out = {}; the model reads [{}, {}, {}])\n",
                       task_name(task), input_vocab_size(task), output_vocab_size(task), in_len, out_len, sequences,
                       in_len + out_len, input_vocab_size(task) + 1);
            std::vector<int64_t> inputs = batch.inputs.to_vector<int64_t>(), targets = batch.targets.to_vector<int64_t>();
            std::vector<float> mask = batch.mask.to_vector<float>();
            for (int64_t b = 0; b < sequences; ++b) {
                auto row = [b](const auto& v, int64_t width) {
                    return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin() + b * width,
                                                                                      v.begin() + (b + 1) * width);
                };
                fmt::print("  input  {}\n  target {}\n", fmt::join(row(inputs, in_len), " "),
                           fmt::join(row(targets, out_len), " "));
                if (has_termination_mask(task)) fmt::print("  mask   {}\n", fmt::join(row(mask, out_len), " "));
            }
            fmt::print("\n");
        }
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
