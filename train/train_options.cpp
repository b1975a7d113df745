#include "train_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>

#include "../core/error.h"
#include "option_checks.h"

namespace tapegrad::train {

namespace {

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::cpu();
    if (name == "cuda") return Device::cuda(0);
    const std::string index = name.rfind("cuda:", 0) == 0 ? name.substr(5) : "";
    // Digits only: std::stoi alone would take "cuda:-1" and "cuda:1x".
    if (!index.empty() && std::all_of(index.begin(), index.end(), [](unsigned char c) { return std::isdigit(c); })) {
        try {
            return Device::cuda(std::stoi(index));
        } catch (const std::out_of_range&) {
        }
    }
    fail("tapegrad-train", "unknown device '{}' (expected cpu, cuda or cuda:N)", name);
}

std::string join(const std::vector<std::string>& args) {
    std::string s;
    for (const std::string& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
}

}  // namespace

std::optional<TrainConfig> parse_options(const std::vector<std::string>& args, std::ostream& out) {
    TrainConfig c;
    std::string model = "lstm", device = "cpu", protocol, truncate = "first", progress = "auto";
    bool no_eval = false;

    CLI::App app{"tapegrad-train: trains one model on IMDB or one of the 15 formal-language tasks", "tapegrad-train"};
    app.get_formatter()->column_width(34);
    auto* task = app.add_option("--task", c.task, "imdb, or a formal task: even_pairs, modular_arithmetic, parity_check, "
                                                  "cycle_navigation, stack_manipulation, reverse_string, "
                                                  "modular_arithmetic_brackets, solve_equation, duplicate_string, "
                                                  "missing_duplicate_string, odds_first, binary_addition, "
                                                  "binary_multiplication, compute_sqrt, bucket_sort")
                     ->capture_default_str();
    app.add_option("--model", model, "rnn, lstm, gru, bilstm, qllstm, prlstm, prrnn, transformer")->capture_default_str();
    auto* hidden = app.add_option("--hidden", c.model.hidden, "hidden size H of the recurrent models")->check(at_least(1))->capture_default_str();
    app.add_option("--embed", c.model.embed, "embedding size E (imdb)")->check(at_least(1))->capture_default_str();
    app.add_option("--layers", c.model.layers, "stacked layers (rnn, lstm, gru, bilstm)")->check(at_least(1))->capture_default_str();
    app.add_option("--forget-bias", c.model.forget_bias, "initial forget-gate bias (lstm, bilstm)")->check(real_in(-kUnbounded, kUnbounded))->capture_default_str();
    app.add_option("--ql-psug", c.model.ql.psug, "QL-LSTM: parameter-shared unified gating (true/false)")->capture_default_str();
    app.add_option("--ql-hgr", c.model.ql.hgr, "QL-LSTM: HGR-ASC block summaries and skip (true/false)")->capture_default_str();
    app.add_option("--ql-k", c.model.ql.block_size, "QL-LSTM: block size K")->check(at_least(1))->capture_default_str();
    app.add_option("--ql-gate-scales", c.model.ql.gate_scales, "QL-LSTM: gate-specific scales a_* (true/false)")->capture_default_str();
    app.add_option("--ql-max-pool", c.model.ql.max_pool, "QL-LSTM: max- instead of mean-pool blocks (true/false)")->capture_default_str();
    app.add_option("--ql-gated-skip", c.model.ql.gated_skip, "QL-LSTM: gated instead of additive skip (true/false)")->capture_default_str();
    app.add_option("--ql-block-recurrence", c.model.ql.block_recurrence, "QL-LSTM: V_s s_{k-1} term (true/false)")->capture_default_str();
    app.add_option("--pr-refinements", c.model.refinements, "PR-LSTM/PR-RNN: unary refinements R")->check(at_least(0))->capture_default_str();
    app.add_option("--d-model", c.model.transformer.d_model, "Transformer width")->check(at_least(1))->capture_default_str();
    app.add_option("--heads", c.model.transformer.heads, "Transformer heads")->check(at_least(1))->capture_default_str();
    auto* transformer_layers = app.add_option("--transformer-layers", c.model.transformer.layers, "Transformer blocks")->check(at_least(1))->capture_default_str();
    app.add_option("--dropout", c.model.transformer.dropout, "Transformer dropout")->check(real_in(0, 1))->capture_default_str();

    app.add_option("--optimizer", c.optimizer, "adam, adamw, sgd")->check(CLI::IsMember({"adam", "adamw", "sgd"}))->capture_default_str();
    app.add_option("--lr", c.lr, "learning rate")->check(real_in(0, kUnbounded, true))->capture_default_str();
    app.add_option("--weight-decay", c.weight_decay, "weight decay")->check(real_in(0, kUnbounded))->capture_default_str();
    app.add_option("--momentum", c.momentum, "SGD momentum")->check(real_in(0, kUnbounded))->capture_default_str();
    app.add_option("--schedule", c.schedule, "learning-rate schedule: constant, warmup, cosine")->check(CLI::IsMember({"constant", "warmup", "cosine"}))->capture_default_str();
    app.add_option("--warmup", c.warmup_steps, "warm-up steps (warmup, cosine)")->check(at_least(0))->capture_default_str();
    auto* batch = app.add_option("--batch-size", c.batch_size, "sequences per step")->check(at_least(1))->capture_default_str();
    auto* steps = app.add_option("--steps", c.steps, "optimizer steps")->check(at_least(0))->capture_default_str();
    app.add_option("--epochs", c.epochs, "imdb: epochs (overrides --steps)")->check(at_least(0))->capture_default_str();
    app.add_option("--clip", c.clip, "global gradient-norm clip (0: off)")->check(real_in(0, kUnbounded))->capture_default_str();
    app.add_option("--seed", c.seed, "seed of the initialisation and the data order")->capture_default_str();
    app.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();

    app.add_option("--out", c.out_dir, "run folder: log.csv, checkpoint.safetensors, lengths.csv, summary.json")->capture_default_str();
    app.add_option("--log-every", c.log_every, "steps per CSV row (and per progress line without a terminal)")->check(at_least(1))->capture_default_str();
    app.add_option("--checkpoint-every", c.checkpoint_every, "steps between checkpoints (0: only at the end)")->check(at_least(0))->capture_default_str();
    app.add_option("--resume", c.resume, "continue from this checkpoint (its run-defining options must match)");
    app.add_flag("--force-resume", c.force_resume, "resume even if options such as --lr or --steps differ (warns)");
    app.add_option("--progress", progress, "auto (bar on a terminal), bar, lines")->capture_default_str();
    app.add_flag("--no-eval", no_eval, "skip the final test evaluation");
    app.add_option("--predict", c.predict, "instead of training: classify each line of FILE with the imdb run in --out "
                                           "(prints line, label, probability)");

    app.add_option("--protocol", protocol, "formal tasks: 'full' (papers) or 'reduced' (2-core CPU) preset");
    auto* min_test = app.add_option("--min-test-length", c.protocol.min_test_length, "first test length")->check(at_least(1))->capture_default_str();
    auto* max_test = app.add_option("--max-test-length", c.protocol.max_test_length, "last test length")->capture_default_str();
    auto* test_batches = app.add_option("--test-batches", c.protocol.test_batches_per_length, "test batches per length")->check(at_least(1))->capture_default_str();
    auto* test_batch = app.add_option("--test-batch-size", c.protocol.test_batch_size, "sequences per test batch")->check(at_least(1))->capture_default_str();
    app.add_option("--min-train-length", c.protocol.min_train_length, "shortest training length")->check(at_least(1))->capture_default_str();
    app.add_option("--max-train-length", c.protocol.max_train_length, "longest training length (one length per batch, uniform)")->capture_default_str();

    app.add_option("--data-dir", c.imdb.data_dir, "imdb: folder with train.tsv.gz/test.tsv.gz or aclImdb/ "
                                                  "(default: $TAPEGRAD_IMDB_DIR)");
    app.add_option("--max-length", c.imdb.max_length, "imdb: keep at most L tokens")->check(at_least(1))->capture_default_str();
    app.add_option("--truncate", truncate, "imdb: keep the 'first' or the 'last' L tokens")->capture_default_str();
    app.add_option("--vocab-size", c.imdb.vocab_size, "imdb: words in the vocabulary (plus <pad>, <unk>)")->check(at_least(1))->capture_default_str();
    app.add_option("--validation-fraction", c.imdb.validation_fraction, "imdb: training reviews held out")->check(real_in(0, 1))->capture_default_str();
    app.add_option("--train-subset", c.train_subset, "imdb: train on N random reviews (0: all)")->check(at_least(0))->capture_default_str();
    app.add_option("--test-subset", c.test_subset, "imdb: test on N random reviews (0: all)")->check(at_least(0))->capture_default_str();

    std::vector<std::string> reversed(args.rbegin(), args.rend() - (args.empty() ? 0 : 1));
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        fail("tapegrad-train", "{} (run with --help for the options)", e.what());
    }
    (void)task;

    c.model.kind = parse_model_kind(model);
    c.device = parse_device(device);
    c.evaluate = !no_eval;
    c.command = join(args);
    if (truncate == "first") c.imdb.truncation = data::Truncation::KeepFirst;
    else if (truncate == "last") c.imdb.truncation = data::Truncation::KeepLast;
    else fail("tapegrad-train", "--truncate must be 'first' or 'last', got '{}'", truncate);
    if (progress == "auto") c.progress = ProgressStyle::Auto;
    else if (progress == "bar") c.progress = ProgressStyle::Bar;
    else if (progress == "lines") c.progress = ProgressStyle::Lines;
    else fail("tapegrad-train", "--progress must be auto, bar or lines, got '{}'", progress);

    // Presets fill what was not given explicitly.
    auto preset = [](CLI::Option* option, auto& field, auto value) {
        if (option->count() == 0) field = value;
    };
    if (protocol == "full") {
        preset(hidden, c.model.hidden, int64_t(256));
        preset(steps, c.steps, int64_t(1000000));
        preset(batch, c.batch_size, int64_t(128));
        preset(min_test, c.protocol.min_test_length, int64_t(41));
        preset(max_test, c.protocol.max_test_length, int64_t(500));
        preset(test_batches, c.protocol.test_batches_per_length, int64_t(8));
        preset(test_batch, c.protocol.test_batch_size, int64_t(64));
    } else if (protocol == "reduced") {
        preset(hidden, c.model.hidden, int64_t(64));
        preset(steps, c.steps, int64_t(2000));
        preset(batch, c.batch_size, int64_t(32));
        preset(min_test, c.protocol.min_test_length, int64_t(41));
        preset(max_test, c.protocol.max_test_length, int64_t(100));
        preset(test_batches, c.protocol.test_batches_per_length, int64_t(4));
        preset(test_batch, c.protocol.test_batch_size, int64_t(8));
        preset(transformer_layers, c.model.transformer.layers, int64_t(2));
    } else if (!protocol.empty()) {
        fail("tapegrad-train", "--protocol must be 'full' or 'reduced', got '{}'", protocol);
    }
    if (c.task != "imdb") data::parse_formal_task(c.task);  // an unknown task fails here, listing the valid ones
    // What one option's validator cannot see: the ranges that two options make.
    if (c.protocol.max_train_length < c.protocol.min_train_length)
        fail("tapegrad-train", "training lengths {}..{} (expected --min-train-length <= --max-train-length)",
             c.protocol.min_train_length, c.protocol.max_train_length);
    if (c.protocol.max_test_length < c.protocol.min_test_length)
        fail("tapegrad-train", "test lengths {}..{} (expected --min-test-length <= --max-test-length)",
             c.protocol.min_test_length, c.protocol.max_test_length);
    return c;
}

}  // namespace tapegrad::train
