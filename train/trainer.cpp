#include "trainer.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../autograd/tape.h"
#include "../core/error.h"
#include "../data/random_draws.h"
#include "../core/atomic_file.h"
#include "../models/metrics.h"
#include "../models/checkpoint.h"
#include "../models/optim.h"
#include "../cpu/blas_info.h"
#include "../cpu/cpu_gemm.h"
#include "../cpu/cpu_threads.h"
#include "../ops/nn.h"
#include "../ops/reduce.h"
#include "../ops/shape_ops.h"
#include "train_progress.h"

namespace tapegrad::train {

namespace fs = std::filesystem;

// ---- stop request (SIGINT) ---------------------------------------------------------------------

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_sigint(int) { g_stop = 1; }
}  // namespace

void install_stop_handler() {
    struct sigaction action = {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
}
bool stop_requested() { return g_stop != 0; }
void clear_stop_request() { g_stop = 0; }

namespace {

bool is_imdb(const TrainConfig& config) { return config.task == "imdb"; }

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, const std::vector<Tensor>& params) {
    if (c.optimizer == "adam" || c.optimizer == "adamw") {
        AdamOptions o;
        o.lr = c.lr;
        o.weight_decay = c.weight_decay;
        if (c.optimizer == "adam") return std::make_unique<Adam>(params, o);
        return std::make_unique<AdamW>(params, o);
    }
    if (c.optimizer == "sgd") {
        SgdOptions o;
        o.lr = c.lr;
        o.momentum = c.momentum;
        o.weight_decay = c.weight_decay;
        return std::make_unique<SGD>(params, o);
    }
    fail("tapegrad-train", "unknown optimizer '{}' (expected adam, adamw or sgd)", c.optimizer);
}

// The scheduler of --schedule, positioned at `step` (the first step this process trains).
std::unique_ptr<LrScheduler> make_scheduler(const TrainConfig& c, Optimizer& optimizer, int64_t total_steps, int64_t step) {
    const int64_t last_epoch = step - 1;
    if (c.schedule == "constant") return std::make_unique<LambdaLR>(optimizer, [](int64_t) { return 1.0; }, last_epoch);
    if (c.schedule == "warmup") return std::make_unique<WarmupLR>(optimizer, std::max<int64_t>(1, c.warmup_steps), last_epoch);
    if (c.schedule == "cosine") return std::make_unique<WarmupCosineLR>(optimizer, total_steps, c.warmup_steps, 0.0, last_epoch);
    fail("tapegrad-train", "unknown schedule '{}' (expected constant, warmup or cosine)", c.schedule);
}

// Every Dropout module of the tree, depth first (their generators are part of the run's state).
void collect_dropouts(Module& m, std::vector<Dropout*>& out) {
    if (auto* d = dynamic_cast<Dropout*>(&m)) out.push_back(d);
    for (const auto& [name, child] : m.children()) collect_dropouts(*child, out);
}

// The steps since the last log row: their sums, of which the row holds the means. tokens and
// seconds (the row's throughput) count this process's steps only: timings stay out of the
// checkpoint, so that it has the same bytes as an uninterrupted run's.
struct LogWindow {
    int64_t steps = 0, tokens = 0;
    double loss = 0, accuracy = 0, grad_norm = 0, seconds = 0;
};

// Where the loop stands and what it last reported; saved in the checkpoint's metadata.
struct Position {
    int64_t step = 0;            // completed optimizer steps
    int64_t epoch = 0;           // IMDB: current epoch (0-based)
    int64_t batch_in_epoch = 0;  // IMDB: next batch of that epoch
    uint64_t data_offset = 0;    // formal tasks: the batch stream's counter
    // The open log window: a run resumed inside it (after a SIGINT stop) logs the same row as an
    // uninterrupted run.
    LogWindow window;
    // The means of the last logged window: summary.json's final_loss/final_accuracy, also after a
    // resume from the last step (which trains no step of its own).
    double last_loss = 0, last_accuracy = 0;
};

// The options that define what a run computes: the task and its data, the model, the optimizer
// and its schedule, the seed, the test protocol. A resume must use the same values (they are
// stored in the checkpoint's metadata under the option's name). Not here: where and how the run
// goes (device, threads, --out, --log-every, --checkpoint-every, --progress, --no-eval), nor
// --data-dir (a moved folder holds the same data).
std::vector<std::pair<std::string, std::string>> run_defining_options(const TrainConfig& c) {
    auto text = [](auto value) { return fmt::format("{}", value); };  // doubles: shortest exact form
    const ModelConfig& m = c.model;
    return {{"--task", c.task},
            {"--model", model_name(m.kind)},
            {"--hidden", text(m.hidden)},
            {"--embed", text(m.embed)},
            {"--layers", text(m.layers)},
            {"--forget-bias", text(m.forget_bias)},
            {"--ql-psug", text(m.ql.psug)},
            {"--ql-hgr", text(m.ql.hgr)},
            {"--ql-k", text(m.ql.block_size)},
            {"--ql-gate-scales", text(m.ql.gate_scales)},
            {"--ql-max-pool", text(m.ql.max_pool)},
            {"--ql-gated-skip", text(m.ql.gated_skip)},
            {"--ql-block-recurrence", text(m.ql.block_recurrence)},
            {"--pr-refinements", text(m.refinements)},
            {"--d-model", text(m.transformer.d_model)},
            {"--heads", text(m.transformer.heads)},
            {"--transformer-layers", text(m.transformer.layers)},
            {"--dropout", text(m.transformer.dropout)},
            {"--optimizer", c.optimizer},
            {"--lr", text(c.lr)},
            {"--weight-decay", text(c.weight_decay)},
            {"--momentum", text(c.momentum)},
            {"--schedule", c.schedule},
            {"--warmup", text(c.warmup_steps)},
            {"--batch-size", text(c.batch_size)},
            {"--steps", text(c.steps)},
            {"--epochs", text(c.epochs)},
            {"--clip", text(c.clip)},
            {"--seed", text(c.seed)},
            {"--min-train-length", text(c.protocol.min_train_length)},
            {"--max-train-length", text(c.protocol.max_train_length)},
            {"--min-test-length", text(c.protocol.min_test_length)},
            {"--max-test-length", text(c.protocol.max_test_length)},
            {"--test-batches", text(c.protocol.test_batches_per_length)},
            {"--test-batch-size", text(c.protocol.test_batch_size)},
            {"--max-length", text(c.imdb.max_length)},
            {"--truncate", c.imdb.truncation == data::Truncation::KeepFirst ? "first" : "last"},
            {"--vocab-size", text(c.imdb.vocab_size)},
            {"--validation-fraction", text(c.imdb.validation_fraction)},
            {"--train-subset", text(c.train_subset)},
            {"--test-subset", text(c.test_subset)}};
}

struct StepOutcome {
    Tensor loss;
    double accuracy;
    int64_t tokens;
};

// The task side of the loop: batches, the loss of one step, the final evaluation.
class TaskRunner {
public:
    virtual ~TaskRunner() = default;
    virtual int64_t steps_per_epoch() const { return 0; }
    virtual StepOutcome step(TaskModel& model, Position& position) = 0;
    virtual void evaluate(TaskModel& model, const TrainConfig& config, TrainSummary& summary) = 0;
};

class FormalRunner : public TaskRunner {
public:
    FormalRunner(const TrainConfig& config) : config_(config), task_(data::parse_formal_task(config.task)),
                                              data_gen_(config.seed + 1) {}
    StepOutcome step(TaskModel& model, Position& position) override {
        data_gen_.set_offset(position.data_offset);
        const int64_t length = data::sample_training_length(config_.protocol, data_gen_);
        const data::FormalBatch batch = data::generate_batch(task_, config_.batch_size, length, data_gen_);
        position.data_offset = data_gen_.offset();
        const int64_t outputs = data::output_length(task_, length);
        const Tensor x =
            data::model_input(batch.inputs, data::input_vocab_size(task_), outputs, DType::Float32, config_.device);
        const Tensor logits = last_positions(model.per_position(x), outputs);
        // The reference's loss: cross-entropy over every output position, unmasked.
        const Tensor loss = cross_entropy(logits, to(batch.targets, config_.device));
        return {loss, data::masked_accuracy(logits, batch.targets, batch.mask), x.size(0) * x.size(1)};
    }
    void evaluate(TaskModel& model, const TrainConfig& config, TrainSummary& summary) override {
        NoGrad no_grad;
        summary.lengths = data::evaluate_lengths(task_, config.protocol, [&](const Tensor& x, int64_t outputs) {
            return last_positions(model.per_position(to(x, config.device)), outputs);
        });
        summary.score = data::length_score(summary.lengths);
        summary.solved = data::is_solved(summary.score, config.protocol);
        std::string csv = "length,accuracy\n";
        for (const auto& a : summary.lengths) csv += fmt::format("{},{:.6f}\n", a.length, a.accuracy);
        write_file_atomically((fs::path(config.out_dir) / "lengths.csv").string(), {csv}, "tapegrad-train");
    }

private:
    // logits [B, T, O] -> the last `outputs` positions [B, outputs, O] (where the answer is read).
    static Tensor last_positions(const Tensor& logits, int64_t outputs) {
        return slice(logits, 1, logits.size(1) - outputs, logits.size(1));
    }
    const TrainConfig& config_;
    data::FormalTask task_;
    Generator data_gen_;
};

// The first n of a random permutation of `reviews` (all of them when n is 0 or too large).
std::vector<data::EncodedReview> random_subset(std::vector<data::EncodedReview> reviews, int64_t n, uint64_t seed) {
    if (n <= 0 || n >= int64_t(reviews.size())) return reviews;
    Generator gen(seed);
    data::shuffle(reviews, gen);
    reviews.resize(size_t(n));
    return reviews;
}

class ImdbRunner : public TaskRunner {
public:
    ImdbRunner(const TrainConfig& config, std::ostream& out) : config_(config) {
        const auto start = std::chrono::steady_clock::now();
        data::ImdbDataset dataset = data::load_imdb(config.imdb);
        vocab_size_ = dataset.vocab.size();
        dataset.vocab.save((fs::path(config.out_dir) / "vocab.txt").string());  // what --predict reads
        train_ = random_subset(std::move(dataset.train), config.train_subset, config.seed + 2);
        // The test subset does not depend on the run's seed: every run is scored on the same reviews.
        test_ = random_subset(std::move(dataset.test), config.test_subset, 1);
        Generator probe(config.seed + 1);
        steps_per_epoch_ = int64_t(data::bucketed_batches(train_, config.batch_size, probe).size());
        out << fmt::format("IMDB: {} training reviews, {} test reviews, vocabulary {}, L = {} ({}), loaded in {:.1f} s\n",
                           train_.size(), test_.size(), vocab_size_, config.imdb.max_length,
                           config.imdb.truncation == data::Truncation::KeepFirst ? "first tokens" : "last tokens",
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    int64_t vocab_size() const { return vocab_size_; }
    int64_t steps_per_epoch() const override { return steps_per_epoch_; }

    StepOutcome step(TaskModel& model, Position& position) override {
        if (position.batch_in_epoch >= steps_per_epoch_) {
            ++position.epoch;
            position.batch_in_epoch = 0;
        }
        if (cached_epoch_ != position.epoch) {
            // Epoch e's order: its own slice of the seed + 1 stream, so it is rebuilt from e alone.
            Generator gen(config_.seed + 1);
            gen.set_offset(uint64_t(position.epoch) << 40);
            batches_ = data::bucketed_batches(train_, config_.batch_size, gen);
            cached_epoch_ = position.epoch;
        }
        const data::TextBatch batch = data::make_text_batch(train_, batches_[size_t(position.batch_in_epoch++)]);
        const std::vector<int64_t> lengths = batch.lengths.to_vector<int64_t>();
        const Tensor logits = model.classify(to(batch.tokens, config_.device), lengths);
        const Tensor loss = cross_entropy(logits, to(batch.labels, config_.device));
        int64_t tokens = 0;
        for (int64_t n : lengths) tokens += n;
        return {loss, accuracy(logits, batch.labels), tokens};
    }

    void evaluate(TaskModel& model, const TrainConfig& config, TrainSummary& summary) override {
        NoGrad no_grad;
        // Sorted by length, so batches hold reviews of similar length (order does not matter here).
        std::vector<int64_t> order(test_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return test_[size_t(a)].tokens.size() < test_[size_t(b)].tokens.size(); });
        int64_t tp = 0, fp = 0, fn = 0, correct = 0;
        for (size_t begin = 0; begin < order.size(); begin += size_t(config.batch_size)) {
            const std::vector<int64_t> indices(order.begin() + long(begin),
                                               order.begin() + long(std::min(order.size(), begin + size_t(config.batch_size))));
            const data::TextBatch batch = data::make_text_batch(test_, indices);
            const Tensor logits = model.classify(to(batch.tokens, config.device), batch.lengths.to_vector<int64_t>());
            const std::vector<int64_t> predicted = argmax(logits, 1).to_vector<int64_t>(),
                                       truth = batch.labels.to_vector<int64_t>();
            for (size_t i = 0; i < truth.size(); ++i) {
                correct += predicted[i] == truth[i];
                tp += predicted[i] == 1 && truth[i] == 1;
                fp += predicted[i] == 1 && truth[i] == 0;
                fn += predicted[i] == 0 && truth[i] == 1;
            }
        }
        summary.test_examples = int64_t(test_.size());
        summary.test_accuracy = double(correct) / double(std::max<size_t>(1, test_.size()));
        // F1 of the positive class: 2 TP / (2 TP + FP + FN).
        summary.test_f1 = tp == 0 ? 0.0 : 2.0 * double(tp) / double(2 * tp + fp + fn);
    }

private:
    const TrainConfig& config_;
    int64_t vocab_size_ = 0, steps_per_epoch_ = 0, cached_epoch_ = -1;
    std::vector<data::EncodedReview> train_, test_;
    std::vector<std::vector<int64_t>> batches_;
};

std::map<std::string, std::string> position_metadata(const TrainConfig& config, const Position& p,
                                                     const std::vector<Dropout*>& dropouts) {
    std::map<std::string, std::string> m;
    for (const auto& [option, value] : run_defining_options(config)) m[option] = value;
    m["step"] = std::to_string(p.step);
    m["epoch"] = std::to_string(p.epoch);
    m["batch_in_epoch"] = std::to_string(p.batch_in_epoch);
    m["data_offset"] = std::to_string(p.data_offset);
    m["window.steps"] = std::to_string(p.window.steps);
    auto exact = [](double x) { return fmt::format("{}", x); };  // the shortest form that reads back exactly
    m["window.loss"] = exact(p.window.loss);
    m["window.accuracy"] = exact(p.window.accuracy);
    m["window.grad_norm"] = exact(p.window.grad_norm);
    m["last_loss"] = exact(p.last_loss);
    m["last_accuracy"] = exact(p.last_accuracy);
    for (size_t i = 0; i < dropouts.size(); ++i) m["dropout_offset." + std::to_string(i)] = std::to_string(dropouts[i]->gen.offset());
    return m;
}

const std::string& metadata_entry(const std::map<std::string, std::string>& m, const std::string& key,
                                  const std::string& path) {
    auto it = m.find(key);
    if (it == m.end()) fail("tapegrad-train", "checkpoint {} has no '{}' in its metadata (not a training checkpoint?)", path, key);
    return it->second;
}

// A metadata entry as an integer 0..max, all of the text (no sign, no spaces, no trailing characters).
uint64_t metadata_number(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path,
                         uint64_t max = std::numeric_limits<uint64_t>::max()) {
    const std::string& text = metadata_entry(m, key, path);
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > max)
        fail("tapegrad-train", "checkpoint {}: metadata '{}' is '{}' (expected an integer 0..{})", path, key, text, max);
    return value;
}
int64_t metadata_count(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
    return int64_t(metadata_number(m, key, path, uint64_t(std::numeric_limits<int64_t>::max())));
}

// A metadata entry as a finite number, all of the text.
double metadata_real(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
    const std::string& text = metadata_entry(m, key, path);
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
        fail("tapegrad-train", "checkpoint {}: metadata '{}' is '{}' (expected a finite number)", path, key, text);
    return value;
}

// Rule: a resume continues the same run. Every run-defining option must equal the checkpoint's;
// with --force-resume the differences are printed as warnings and the run goes on with the new values.
void check_same_run(const TrainConfig& config, const std::map<std::string, std::string>& meta, std::ostream& out) {
    std::string differences;
    for (const auto& [option, value] : run_defining_options(config)) {
        auto it = meta.find(option);
        const std::string before = it == meta.end() ? "(not recorded)" : it->second;
        if (before == value) continue;
        if (config.force_resume)
            out << fmt::format("warning: --force-resume: continuing with {} {} (the checkpoint was made with {} {})\n",
                               option, value, option, before);
        differences += fmt::format("{}{} was {}, this run has {}", differences.empty() ? "" : "; ", option, before, value);
    }
    if (!differences.empty() && !config.force_resume)
        fail("tapegrad-train", "cannot resume from {}: it was made with other options: {} (resume with the same options, "
             "or give --force-resume to continue with the new ones)", config.resume, differences);
}

Position restore(const TrainConfig& config, TaskModel& model, Optimizer& optimizer,
                 const std::vector<Dropout*>& dropouts, std::ostream& out) {
    const std::string& path = config.resume;
    const auto meta = load_metadata(path);
    check_same_run(config, meta, out);
    Position p;
    p.step = metadata_count(meta, "step", path);
    p.epoch = metadata_count(meta, "epoch", path);
    p.batch_in_epoch = metadata_count(meta, "batch_in_epoch", path);
    p.data_offset = metadata_number(meta, "data_offset", path);
    p.window.steps = metadata_count(meta, "window.steps", path);
    p.window.loss = metadata_real(meta, "window.loss", path);
    p.window.accuracy = metadata_real(meta, "window.accuracy", path);
    p.window.grad_norm = metadata_real(meta, "window.grad_norm", path);
    p.last_loss = metadata_real(meta, "last_loss", path);
    p.last_accuracy = metadata_real(meta, "last_accuracy", path);
    std::vector<uint64_t> dropout_offsets;
    for (size_t i = 0; i < dropouts.size(); ++i)
        dropout_offsets.push_back(metadata_number(meta, "dropout_offset." + std::to_string(i), path));
    // The tensors last: nothing is changed unless all of the metadata checked out.
    load_checkpoint(path, model, &optimizer);
    for (size_t i = 0; i < dropouts.size(); ++i) dropouts[i]->gen.set_offset(dropout_offsets[i]);
    return p;
}

// ---- run files after a kill --------------------------------------------------------------------

const char* const kLogHeader = "step,epoch,loss,accuracy,lr,grad_norm,tokens_per_s,elapsed_s\n";
const char* const kRunFiles[] = {"log.csv", "checkpoint.safetensors", "summary.json", "lengths.csv", "vocab.txt"};

// Rule: write_file_atomically leaves "<file>.tmp.<pid>" behind only when its process was killed.
// Those of our run files whose process is gone (or is this one, which has written nothing yet)
// are removed; a live process's are its own business.
void remove_stale_temporaries(const fs::path& out_dir) {
    for (const auto& entry : fs::directory_iterator(out_dir)) {
        const std::string name = entry.path().filename().string();
        for (const char* file : kRunFiles) {
            const std::string prefix = std::string(file) + ".tmp.";
            if (name.rfind(prefix, 0) != 0) continue;
            const std::string pid_text = name.substr(prefix.size());
            int pid = 0;
            const auto [end, error] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
            if (error != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 0) continue;
            const bool gone = pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH);
            if (gone) fs::remove(entry.path());
        }
    }
}

// The log a resumed run continues: the header, then the complete rows of `log_path` up to and
// including `step` (later rows are logged again by the resumed run; a row cut short by the kill
// has no newline). One row per step, in order; a missing or empty log gives the header alone.
std::string log_up_to(const fs::path& log_path, int64_t step) {
    std::string kept = kLogHeader;
    std::ifstream in(log_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    int64_t last = 0;
    for (size_t begin = 0, end; (end = all.find('\n', begin)) != std::string::npos; begin = end + 1) {
        const std::string row = all.substr(begin, end - begin + 1);
        int64_t row_step = 0;
        const auto [field_end, error] = std::from_chars(row.data(), row.data() + row.size(), row_step);
        if (error != std::errc() || *field_end != ',' || row_step <= last || row_step > step) continue;
        kept += row;
        last = row_step;
    }
    return kept;
}

void write_summary_json(const TrainConfig& c, const TrainSummary& s) {
    nlohmann::json j;
    j["command"] = c.command;
    j["task"] = c.task;
    j["model"] = model_name(c.model.kind);
    j["hidden"] = c.model.hidden;
    j["embed"] = c.model.embed;
    j["batch_size"] = c.batch_size;
    j["lr"] = c.lr;
    j["seed"] = c.seed;
    j["steps"] = s.steps;
    j["epochs"] = s.epochs_done;
    j["stopped_early"] = s.stopped_early;
    j["train_seconds"] = s.train_seconds;
    j["tokens_per_second"] = s.tokens_per_second;
    j["seconds_per_epoch"] = s.seconds_per_epoch;
    j["final_loss"] = s.final_loss;
    j["final_accuracy"] = s.final_accuracy;
    j["parameters"] = s.parameters;
    j["encoder_parameters"] = s.encoder_parameters;
    // The machine the figures come from: results are bit-identical for any thread count on one
    // machine, but the speed and (through the libraries' kernels) the last bits are not.
    const BlasInfo blas = blas_info();
    j["cpu"] = blas.cpu;
    j["build_isa"] = blas.isa;
    j["threads"] = num_threads();
    j["thread_policy"] = thread_policy().source;
    j["blas"] = "OpenBLAS " + blas.core + " (" + blas.threading + ")";
    j["matrix_products"] = gemm_path_summary();
    if (is_imdb(c)) {
        j["max_length"] = c.imdb.max_length;
        j["test_accuracy"] = s.test_accuracy;
        j["test_f1"] = s.test_f1;
        j["test_examples"] = s.test_examples;
        j["train_subset"] = c.train_subset;
        if (c.model.kind == ModelKind::QLLSTM) {
            j["ql_psug"] = c.model.ql.psug;
            j["ql_hgr"] = c.model.ql.hgr;
            j["ql_block_size"] = c.model.ql.block_size;
        }
    } else {
        j["score"] = s.score;
        j["solved"] = s.solved;
        j["min_test_length"] = c.protocol.min_test_length;
        j["max_test_length"] = c.protocol.max_test_length;
        j["test_sequences_per_length"] = c.protocol.test_batches_per_length * c.protocol.test_batch_size;
    }
    write_file_atomically((fs::path(c.out_dir) / "summary.json").string(), {j.dump(2) + "\n"}, "tapegrad-train");
}

}  // namespace

std::string summary_table(const TrainConfig& c, const TrainSummary& s) {
    std::vector<std::pair<std::string, std::string>> rows = {
        {"task", c.task},
        {"model", model_name(c.model.kind)},
        {"parameters (model / encoder)", fmt::format("{} / {}", s.parameters, s.encoder_parameters)},
        {"steps", fmt::format("{}{}", s.steps, s.stopped_early ? " (stopped early)" : "")},
        {"training time", format_duration(s.train_seconds)},
        {"tokens/s (training)", fmt::format("{:.0f}", s.tokens_per_second)},
        {"final loss / accuracy", fmt::format("{:.4f} / {:.1f}%", s.final_loss, 100 * s.final_accuracy)},
    };
    if (is_imdb(c)) {
        rows.push_back({"epochs", std::to_string(s.epochs_done)});
        rows.push_back({"seconds per epoch", fmt::format("{:.1f}", s.seconds_per_epoch)});
        if (s.test_examples > 0) {
            rows.push_back({"test accuracy", fmt::format("{:.2f}% ({} reviews)", 100 * s.test_accuracy, s.test_examples)});
            rows.push_back({"test F1 (positive)", fmt::format("{:.4f}", s.test_f1)});
        }
    } else if (!s.lengths.empty()) {
        rows.push_back({"test lengths", fmt::format("{}..{}", c.protocol.min_test_length, c.protocol.max_test_length)});
        rows.push_back({"score (mean accuracy)", fmt::format("{:.2f}%", 100 * s.score)});
        rows.push_back({"solved (>= 90%)", s.solved ? "yes" : "no"});
    }
    std::string table;
    for (const auto& [key, value] : rows) table += fmt::format("  {:<30} {}\n", key, value);
    return table;
}

TrainSummary run_training(const TrainConfig& config, std::ostream& out) {
    if (config.batch_size < 1) fail("tapegrad-train", "--batch-size must be >= 1, got {}", config.batch_size);
    if (config.log_every < 1) fail("tapegrad-train", "--log-every must be >= 1, got {}", config.log_every);
    if (config.checkpoint_every < 0) fail("tapegrad-train", "--checkpoint-every must be >= 0, got {}", config.checkpoint_every);
    if (config.clip < 0) fail("tapegrad-train", "--clip must be >= 0, got {}", config.clip);
    fs::create_directories(config.out_dir);
    remove_stale_temporaries(config.out_dir);

    // Task and model.
    std::unique_ptr<TaskRunner> runner;
    std::unique_ptr<TaskModel> model;
    Generator init(config.seed);
    if (is_imdb(config)) {
        auto imdb = std::make_unique<ImdbRunner>(config, out);
        model = TaskModel::for_text(config.model, imdb->vocab_size(), 2, init);
        runner = std::move(imdb);
    } else {
        const data::FormalTask task = data::parse_formal_task(config.task);
        model = TaskModel::for_formal_task(config.model, data::input_vocab_size(task) + 1,
                                           data::output_vocab_size(task), init);
        runner = std::make_unique<FormalRunner>(config);
    }
    model->to(config.device);
    model->train();

    int64_t total_steps = config.steps;
    if (is_imdb(config) && config.epochs > 0) total_steps = config.epochs * runner->steps_per_epoch();
    if (total_steps < 1) fail("tapegrad-train", "nothing to train: give --steps N (or --epochs N for imdb)");

    std::unique_ptr<Optimizer> optimizer = make_optimizer(config, model->parameters());
    std::vector<Dropout*> dropouts;
    collect_dropouts(*model, dropouts);

    Position position;
    if (!config.resume.empty()) {
        position = restore(config, *model, *optimizer, dropouts, out);
        out << fmt::format("resumed from {} at step {}\n", config.resume, position.step);
    }
    std::unique_ptr<LrScheduler> scheduler = make_scheduler(config, *optimizer, total_steps, position.step);

    const fs::path checkpoint_path = fs::path(config.out_dir) / "checkpoint.safetensors";
    const fs::path log_path = fs::path(config.out_dir) / "log.csv";
    // The log starts as a whole file (a kill can never leave it without its header); rows are
    // then appended and flushed one by one.
    const std::string log_start = config.resume.empty() ? kLogHeader : log_up_to(log_path, position.step);
    write_file_atomically(log_path.string(), {log_start}, "tapegrad-train");
    std::ofstream log(log_path, std::ios::app);
    if (!log) fail("tapegrad-train", "cannot write {}", log_path.string());

    TrainSummary summary;
    summary.parameters = model->num_parameters();
    summary.encoder_parameters = model->encoder_parameters();
    out << fmt::format("{} on {}: {} parameters ({} in the encoder), {} steps, batch {}, {} lr {}\n",
                       model_name(config.model.kind), config.task, summary.parameters, summary.encoder_parameters,
                       total_steps, config.batch_size, config.optimizer, config.lr);

    const bool bar = config.progress == ProgressStyle::Bar ||
                     (config.progress == ProgressStyle::Auto && ::isatty(::fileno(stdout)));
    Progress progress(out, bar ? ::fileno(stdout) : -1, total_steps, config.log_every);
    auto save = [&] { save_checkpoint(checkpoint_path.string(), *model, optimizer.get(), position_metadata(config, position, dropouts)); };

    double seconds = 0;
    int64_t tokens = 0;
    LogWindow& window = position.window;
    const int64_t first_step = position.step;
    while (position.step < total_steps && !stop_requested()) {
        const auto start = std::chrono::steady_clock::now();
        optimizer->zero_grad();
        const StepOutcome outcome = runner->step(*model, position);
        backward(outcome.loss);
        const double norm = config.clip > 0 ? clip_grad_norm(optimizer->params(), config.clip) : 0.0;
        optimizer->step();
        const double loss = outcome.loss.item();
        ++position.step;
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        seconds += dt;
        tokens += outcome.tokens;
        window.steps += 1, window.tokens += outcome.tokens;
        window.loss += loss, window.accuracy += outcome.accuracy, window.grad_norm += norm, window.seconds += dt;

        const double mean_loss = window.loss / double(window.steps), mean_accuracy = window.accuracy / double(window.steps);
        progress.update(position.step, mean_loss, mean_accuracy, double(window.tokens) / window.seconds,
                        seconds / double(position.step - first_step));
        if (position.step % config.log_every == 0 || position.step == total_steps) {
            log << fmt::format("{},{},{:.6f},{:.6f},{:.6g},{:.6f},{:.1f},{:.3f}\n", position.step, position.epoch,
                               mean_loss, mean_accuracy, optimizer->lr(), window.grad_norm / double(window.steps),
                               double(window.tokens) / window.seconds, seconds);
            log.flush();
            position.last_loss = mean_loss, position.last_accuracy = mean_accuracy;
            window = LogWindow{};
        }
        scheduler->step();  // after the log row, which shows the lr of the step just taken
        if (config.checkpoint_every > 0 && position.step % config.checkpoint_every == 0) save();
        if (config.after_step) config.after_step(position.step);
    }
    progress.finish();
    save();
    // Stopped inside a window: the means of its steps so far.
    summary.final_loss = window.steps > 0 ? window.loss / double(window.steps) : position.last_loss;
    summary.final_accuracy = window.steps > 0 ? window.accuracy / double(window.steps) : position.last_accuracy;
    summary.steps = position.step;
    summary.stopped_early = position.step < total_steps;
    summary.train_seconds = seconds;
    summary.tokens_per_second = seconds > 0 ? double(tokens) / seconds : 0;
    if (is_imdb(config)) {
        const int64_t per_epoch = runner->steps_per_epoch();
        summary.epochs_done = position.step / per_epoch;
        summary.seconds_per_epoch = position.step > first_step ? seconds / double(position.step - first_step) * double(per_epoch) : 0;
    }
    if (summary.stopped_early)
        out << fmt::format("stopped at step {}: checkpoint saved to {} (continue with --resume {})\n", position.step,
                           checkpoint_path.string(), checkpoint_path.string());
    else if (config.evaluate) {
        model->eval();
        const auto start = std::chrono::steady_clock::now();
        runner->evaluate(*model, config, summary);
        out << fmt::format("evaluated in {:.1f} s\n",
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    write_summary_json(config, summary);
    out << "\nsummary\n" << summary_table(config, summary) << std::flush;
    return summary;
}

}  // namespace tapegrad::train
