// The training driver's library (train/trainer.h and friends): option parsing and its errors,
// the CSV log and run files, resume giving bit-identical parameters and optimizer state, and the
// SIGINT stop with a checkpoint.
#define BOOST_TEST_MODULE train
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/checkpoint.h"
#include "tests/test_files.h"
#include "tests/test_helpers.h"
#include "train/predict.h"
#include "train/train_options.h"
#include "train/train_progress.h"
#include "train/trainer.h"
#include "cpu/cpu_threads.h"

using namespace tapegrad;
using namespace tapegrad::train;
namespace fs = std::filesystem;
using tapegrad::testing::write_gzip;

namespace {

// TempDir("name"): a fresh folder for one test.
struct TempDir : tapegrad::testing::TempDir {
    explicit TempDir(const std::string& name) : tapegrad::testing::TempDir("tapegrad_train", name) {}
};

TrainConfig parse(std::vector<std::string> args) {
    args.insert(args.begin(), "tapegrad-train");
    std::ostringstream out;
    auto config = parse_options(args, out);
    BOOST_REQUIRE(config.has_value());
    return *config;
}

// A tiny, fast formal-task run.
TrainConfig tiny(const std::string& model, const fs::path& out, int64_t steps) {
    TrainConfig c = parse({"--task", "bucket_sort", "--model", model, "--hidden", "8", "--d-model", "8", "--heads",
                           "2", "--transformer-layers", "1", "--batch-size", "4", "--max-train-length", "6",
                           "--min-test-length", "7", "--max-test-length", "8", "--test-batches", "1",
                           "--test-batch-size", "4", "--log-every", "5", "--progress", "lines"});
    c.steps = steps;
    c.out_dir = out.string();
    return c;
}

std::vector<std::string> lines_of(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Every tensor of two checkpoint files, compared bit for bit (parameters and optimizer state).
void check_identical_checkpoints(const fs::path& a, const fs::path& b) {
    const auto ta = load_tensors(a.string()), tb = load_tensors(b.string());
    BOOST_REQUIRE_EQUAL(ta.size(), tb.size());
    for (const auto& [name, tensor] : ta) {
        BOOST_REQUIRE_MESSAGE(tb.count(name), name << " is missing");
        const Tensor& other = tb.at(name);
        BOOST_REQUIRE(tensor.dtype() == other.dtype() && tensor.shape() == other.shape());
        const size_t bytes = size_t(tensor.numel()) * dtype_size(tensor.dtype());
        BOOST_CHECK_MESSAGE(std::memcmp(tensor.raw_data(), other.raw_data(), bytes) == 0, name << " differs");
    }
}

// A run killed by an exception thrown after step `kill_at` (the files are as a SIGKILL there
// would leave them: log rows flushed up to that step, the checkpoint of the last multiple of
// checkpoint_every).
void run_until_killed(TrainConfig c, int64_t kill_at) {
    std::ostringstream out;
    c.after_step = [kill_at](int64_t step) {
        if (step == kill_at) throw std::runtime_error("killed");
    };
    BOOST_CHECK_THROW(run_training(c, out), std::runtime_error);
}

// The deterministic columns of log.csv (step,epoch,loss,accuracy,lr,grad_norm; not the timings).
std::vector<std::string> log_without_timings(const fs::path& path) {
    std::vector<std::string> rows;
    for (const std::string& line : lines_of(path)) {
        size_t end = 0;
        for (int field = 0; field < 6 && end != std::string::npos; ++field) end = line.find(',', end + (field > 0));
        rows.push_back(line.substr(0, end));
    }
    return rows;
}

// A small IMDB-like dataset: positive reviews say "good", negative ones "bad", with varied lengths.
void write_tiny_imdb(const fs::path& dir) {
    auto split = [](int n, int salt) {
        std::string tsv = "label\ttext\n";
        for (int i = 0; i < n; ++i) {
            const int label = i % 2;
            tsv += std::to_string(label) + "\tthis film was";
            for (int j = 0; j < (i * 7 + salt) % 13; ++j) tsv += " quite";
            tsv += label ? " good <br /><br />really good!\n" : " bad, really bad.\n";
        }
        return tsv;
    };
    write_gzip(dir / "train.tsv.gz", split(48, 1));
    write_gzip(dir / "test.tsv.gz", split(16, 5));
}

}  // namespace

BOOST_AUTO_TEST_CASE(options_parse_and_presets) {
    TrainConfig c = parse({"--task", "parity_check", "--model", "qllstm", "--ql-psug", "false", "--ql-k", "32",
                           "--steps", "7", "--device", "cpu"});
    BOOST_CHECK(c.model.kind == ModelKind::QLLSTM);
    BOOST_CHECK(!c.model.ql.psug && c.model.ql.hgr);
    BOOST_CHECK_EQUAL(c.model.ql.block_size, 32);
    BOOST_CHECK_EQUAL(c.steps, 7);

    TrainConfig full = parse({"--task", "reverse_string", "--protocol", "full"});
    BOOST_CHECK_EQUAL(full.model.hidden, 256);
    BOOST_CHECK_EQUAL(full.steps, 1000000);
    BOOST_CHECK_EQUAL(full.batch_size, 128);
    BOOST_CHECK_EQUAL(full.protocol.min_test_length, 41);
    BOOST_CHECK_EQUAL(full.protocol.max_test_length, 500);
    BOOST_CHECK_EQUAL(full.protocol.test_batches_per_length * full.protocol.test_batch_size, 512);
    BOOST_CHECK_EQUAL(full.model.transformer.layers, 5);

    // An explicit option wins over the preset.
    TrainConfig reduced = parse({"--protocol", "reduced", "--hidden", "32", "--max-test-length", "60"});
    BOOST_CHECK_EQUAL(reduced.model.hidden, 32);
    BOOST_CHECK_EQUAL(reduced.protocol.max_test_length, 60);
    BOOST_CHECK_EQUAL(reduced.steps, 2000);
    BOOST_CHECK_EQUAL(reduced.batch_size, 32);

    TrainConfig imdb = parse({"--task", "imdb", "--truncate", "last", "--max-length", "512"});
    BOOST_CHECK(imdb.imdb.truncation == data::Truncation::KeepLast);
    BOOST_CHECK_EQUAL(imdb.imdb.max_length, 512);

    std::ostringstream help;
    BOOST_CHECK(!parse_options({"tapegrad-train", "--help"}, help).has_value());
    for (const char* option : {"--task", "--model", "--ql-k", "--pr-refinements", "--resume", "--force-resume", "--protocol", "--clip"})
        BOOST_CHECK_MESSAGE(help.str().find(option) != std::string::npos, "--help lacks " << option);
}

BOOST_AUTO_TEST_CASE(options_errors_name_the_problem) {
    std::ostringstream out;
    auto p = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "tapegrad-train");
        return parse_options(args, out);
    };
    TAPEGRAD_CHECK_ERROR(p({"--model", "mamba"}), "unknown model 'mamba'", "prlstm");
    TAPEGRAD_CHECK_ERROR(p({"--task", "sorting"}), "sorting", "bucket_sort");
    TAPEGRAD_CHECK_ERROR(p({"--batch-size", "0"}), "--batch-size", "0");
    TAPEGRAD_CHECK_ERROR(p({"--protocol", "huge"}), "--protocol", "huge");
    TAPEGRAD_CHECK_ERROR(p({"--device", "tpu"}), "unknown device 'tpu'");
    TAPEGRAD_CHECK_ERROR(p({"--device", "cuda:-1"}), "unknown device 'cuda:-1'", "cuda:N");
    TAPEGRAD_CHECK_ERROR(p({"--device", "cuda:1x"}), "unknown device 'cuda:1x'");
    TAPEGRAD_CHECK_ERROR(p({"--device", "cuda:99999999999"}), "unknown device 'cuda:99999999999'");
    TAPEGRAD_CHECK_ERROR(p({"--truncate", "middle"}), "--truncate", "middle");
    TAPEGRAD_CHECK_ERROR(p({"--lr", "-1"}), "--lr");
    TAPEGRAD_CHECK_ERROR(p({"--ql-k", "0"}), "--ql-k");
    TAPEGRAD_CHECK_ERROR(p({"--min-train-length", "50"}), "50..40", "--min-train-length");
    TAPEGRAD_CHECK_ERROR(p({"--no-such-option"}), "--no-such-option", "--help");
    TAPEGRAD_CHECK_ERROR(p({"--steps"}), "--steps", "--help");
    TAPEGRAD_CHECK_ERROR(p({"--steps", "many"}), "many", "--help");
}

BOOST_AUTO_TEST_CASE(run_writes_log_checkpoint_lengths_and_summary) {
    TempDir dir("files");
    TrainConfig c = tiny("lstm", dir.path / "run", 12);
    std::ostringstream out;
    const TrainSummary s = run_training(c, out);
    BOOST_CHECK_EQUAL(s.steps, 12);
    BOOST_CHECK(!s.stopped_early);
    BOOST_CHECK_GT(s.tokens_per_second, 0);

    // Rows at steps 5, 10 and the last step 12, each with 8 numeric fields.
    const auto log = lines_of(dir.path / "run" / "log.csv");
    BOOST_REQUIRE_EQUAL(log.size(), 4u);
    BOOST_CHECK_EQUAL(log[0], "step,epoch,loss,accuracy,lr,grad_norm,tokens_per_s,elapsed_s");
    BOOST_CHECK(log[1].rfind("5,0,", 0) == 0 && log[2].rfind("10,0,", 0) == 0 && log[3].rfind("12,0,", 0) == 0);
    BOOST_CHECK_EQUAL(std::count(log[3].begin(), log[3].end(), ','), 7);
    const double loss = std::stod(log[3].substr(log[3].find(',', log[3].find(',') + 1) + 1));
    BOOST_CHECK(loss > 0 && loss < 10);

    const auto lengths = lines_of(dir.path / "run" / "lengths.csv");
    BOOST_REQUIRE_EQUAL(lengths.size(), 3u);  // header, lengths 7 and 8
    BOOST_CHECK(lengths[1].rfind("7,", 0) == 0 && lengths[2].rfind("8,", 0) == 0);
    BOOST_CHECK_EQUAL(s.lengths.size(), 2u);
    BOOST_CHECK_CLOSE(s.score, (s.lengths[0].accuracy + s.lengths[1].accuracy) / 2, 1e-9);

    BOOST_CHECK(fs::exists(dir.path / "run" / "summary.json"));
    // The machine the figures come from: CPU, instruction set, threads, libraries.
    std::string summary_json;
    for (const std::string& line : lines_of(dir.path / "run" / "summary.json")) summary_json += line;
    for (const char* key : {"\"cpu\"", "\"build_isa\"", "\"threads\"", "\"thread_policy\"", "\"blas\"", "\"matrix_products\""})
        BOOST_CHECK_MESSAGE(summary_json.find(key) != std::string::npos, "summary.json has no " << key);
    const auto meta = load_metadata((dir.path / "run" / "checkpoint.safetensors").string());
    BOOST_CHECK_EQUAL(meta.at("step"), "12");
    BOOST_CHECK_EQUAL(meta.at("--model"), "lstm");
    BOOST_CHECK(out.str().find("summary") != std::string::npos);
    BOOST_CHECK(out.str().find("step 10/12") != std::string::npos);  // a plain progress line per 5 steps
}

// The lr column (the 5th) of every row of a log.csv.
std::vector<std::string> logged_lrs(const fs::path& log) {
    std::vector<std::string> column;
    for (const std::string& line : lines_of(log)) {
        std::stringstream fields(line);
        std::string field;
        for (int i = 0; i < 5; ++i) std::getline(fields, field, ',');
        column.push_back(field);
    }
    return column;
}

// 2N steps in one go and a run killed after N steps + resume give the same bits: the data stream, the dropout
// streams and the optimizer state are all restored, and under each schedule the resumed run's
// scheduler, made at the checkpoint's step (last_epoch = step - 1), sets the lrs an uninterrupted run sets.
BOOST_AUTO_TEST_CASE(resume_is_bit_identical) {
    TempDir dir("resume");
    const std::pair<const char*, const char*> runs[] = {
        {"lstm", "constant"}, {"transformer", "constant"}, {"prlstm", "constant"}, {"lstm", "warmup"}, {"lstm", "cosine"}};
    for (const auto& [model, schedule] : runs) {
        std::ostringstream out;
        const std::string name = std::string(model) + "_" + schedule;
        const fs::path whole = dir.path / (name + "_whole"), parts = dir.path / (name + "_parts");
        TrainConfig c = tiny(model, whole, 20);
        c.schedule = schedule;
        c.warmup_steps = 8;
        c.evaluate = false;
        run_training(c, out);
        c.out_dir = parts.string();
        c.checkpoint_every = 10;
        run_until_killed(c, 10);
        c.resume = (parts / "checkpoint.safetensors").string();
        const TrainSummary s = run_training(c, out);
        BOOST_CHECK_EQUAL(s.steps, 20);
        check_identical_checkpoints(whole / "checkpoint.safetensors", parts / "checkpoint.safetensors");
        BOOST_CHECK_EQUAL(lines_of(parts / "log.csv").size(), 5u);  // the resumed run appends
        BOOST_CHECK(logged_lrs(whole / "log.csv") == logged_lrs(parts / "log.csv"));  // the rows after step 10 too
    }
}

// The same run on 1, 2 and 3 threads ends with the same bits (parameters and Adam state): the CPU
// backend cuts every loop and product into pieces that depend on the sizes alone and adds partial
// sums in a fixed order (cpu/cpu_threads.h). The sizes are large enough that the elementwise
// loops, the bias-gradient sums and the matrix products all run in several pieces.
BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_thread_count) {
    TempDir dir("threads");
    const int threads_before = num_threads();
    for (const char* model : {"lstm", "qllstm", "prlstm"}) {
        std::vector<fs::path> runs;
        for (int threads : {1, 2, 3}) {
            set_num_threads(threads);
            std::ostringstream out;
            TrainConfig c = parse({"--task", "bucket_sort", "--model", model, "--hidden", "160", "--batch-size", "64",
                                   "--max-train-length", "12", "--log-every", "3", "--progress", "lines"});
            c.steps = 3;
            c.evaluate = false;
            c.out_dir = (dir.path / (std::string(model) + "_" + std::to_string(threads))).string();
            run_training(c, out);
            runs.push_back(fs::path(c.out_dir) / "checkpoint.safetensors");
        }
        for (size_t i = 1; i < runs.size(); ++i) {
            BOOST_TEST_CONTEXT(model << ": 1 thread against " << i + 1) check_identical_checkpoints(runs[0], runs[i]);
        }
    }
    set_num_threads(threads_before);
}

BOOST_AUTO_TEST_CASE(resume_checks_the_checkpoint_matches) {
    TempDir dir("mismatch");
    std::ostringstream out;
    TrainConfig c = tiny("lstm", dir.path / "a", 3);
    c.evaluate = false;
    run_training(c, out);
    TrainConfig other = tiny("gru", dir.path / "b", 6);
    other.resume = (dir.path / "a" / "checkpoint.safetensors").string();
    TAPEGRAD_CHECK_ERROR(run_training(other, out), "cannot resume", "model", "lstm", "gru");
    TrainConfig missing = tiny("lstm", dir.path / "c", 6);
    missing.resume = (dir.path / "nowhere.safetensors").string();
    TAPEGRAD_CHECK_ERROR(run_training(missing, out), "nowhere.safetensors");
}

// The real handler: SIGINT raised after step 4 stops the loop there with a checkpoint, and resuming
// from it finishes with the same bits and log rows as an uninterrupted run.
BOOST_AUTO_TEST_CASE(sigint_stops_after_saving_a_checkpoint) {
    TempDir dir("sigint");
    std::ostringstream out;
    TrainConfig c = tiny("gru", dir.path / "stopped", 10);
    c.evaluate = false;
    c.after_step = [](int64_t step) {
        if (step == 4) std::raise(SIGINT);
    };
    install_stop_handler();
    const TrainSummary s = run_training(c, out);
    BOOST_CHECK(stop_requested());
    clear_stop_request();
    std::signal(SIGINT, SIG_DFL);
    BOOST_CHECK(s.stopped_early);
    BOOST_CHECK_EQUAL(s.steps, 4);
    BOOST_CHECK(out.str().find("--resume") != std::string::npos);
    const fs::path checkpoint = dir.path / "stopped" / "checkpoint.safetensors";
    BOOST_CHECK_EQUAL(load_metadata(checkpoint.string()).at("step"), "4");

    c.after_step = nullptr;
    c.resume = checkpoint.string();
    BOOST_CHECK_EQUAL(run_training(c, out).steps, 10);
    TrainConfig whole = tiny("gru", dir.path / "whole", 10);
    whole.evaluate = false;
    run_training(whole, out);
    check_identical_checkpoints(dir.path / "whole" / "checkpoint.safetensors", checkpoint);
    // The stop at step 4 was inside the first log window (5 steps): its row is the same too.
    const auto expected = log_without_timings(dir.path / "whole" / "log.csv"),
               received = log_without_timings(dir.path / "stopped" / "log.csv");
    BOOST_CHECK_EQUAL_COLLECTIONS(expected.begin(), expected.end(), received.begin(), received.end());
}

// IMDB through the driver on a tiny dataset: epochs, the epoch/batch position on resume, F1.
BOOST_AUTO_TEST_CASE(imdb_runs_and_resumes_across_epochs) {
    TempDir dir("imdb");
    std::ostringstream out;
    auto config = [&](const std::string& run, const std::string& model) {
        TrainConfig c = parse({"--task", "imdb", "--model", model, "--data-dir", (dir.path / "data").string(),
                               "--embed", "8", "--hidden", "8", "--batch-size", "8", "--epochs", "3",
                               "--max-length", "12", "--vocab-size", "50", "--log-every", "2", "--lr", "1e-2"});
        c.out_dir = (dir.path / run).string();
        return c;
    };
    fs::create_directories(dir.path / "data");
    write_tiny_imdb(dir.path / "data");
    TrainConfig c = config("whole", "bilstm");
    const TrainSummary s = run_training(c, out);
    // 48 reviews, 10% held out -> 43 for training -> 6 batches of up to 8 per epoch.
    BOOST_CHECK_EQUAL(s.epochs_done, 3);
    BOOST_CHECK_EQUAL(s.steps, 18);
    BOOST_CHECK_EQUAL(s.test_examples, 16);
    BOOST_CHECK(s.test_accuracy >= 0 && s.test_accuracy <= 1 && s.test_f1 >= 0 && s.test_f1 <= 1);
    BOOST_CHECK_GT(s.seconds_per_epoch, 0);

    TrainConfig first = config("parts", "bilstm");
    first.checkpoint_every = 8;
    run_until_killed(first, 8);  // inside the second epoch
    TrainConfig rest = config("parts", "bilstm");
    rest.resume = (dir.path / "parts" / "checkpoint.safetensors").string();
    BOOST_CHECK_EQUAL(run_training(rest, out).steps, 18);
    check_identical_checkpoints(dir.path / "whole" / "checkpoint.safetensors",
                                dir.path / "parts" / "checkpoint.safetensors");

    // A missing data folder says where to get the dataset.
    TrainConfig missing = config("missing", "lstm");
    missing.imdb.data_dir = (dir.path / "absent").string();
    TAPEGRAD_CHECK_ERROR(run_training(missing, out), "aclImdb", "--data-dir");
}

// The bar fits the terminal: at most columns - 1 wide for any width and any step count, so that
// no redraw wraps and leaves a stale line behind (an 80-column terminal got one per redraw).
BOOST_AUTO_TEST_CASE(progress_bar_fits_the_terminal_width) {
    const std::string fields = "1200/1000000  loss 0.4123  acc  81.2%      12345 tok/s  ETA 1h02m";
    for (int columns : {1, 10, 40, 60, 75, 76, 80, 120, 300})
        for (int64_t step : {int64_t(0), int64_t(1200), int64_t(1000000)}) {
            const std::string line = bar_line(step, 1000000, fields, columns);
            BOOST_TEST_CONTEXT("columns " << columns << ", step " << step) {
                BOOST_CHECK_LE(int(line.size()), columns - 1);
                BOOST_CHECK_EQUAL(line.find('\n'), std::string::npos);
                // Wide enough: the whole fields after a bar of at least 10 cells.
                if (columns >= int(fields.size()) + 15) BOOST_CHECK(line[0] == '[' && line.find("]  " + fields) >= 11);
            }
        }
    BOOST_CHECK_EQUAL(bar_line(500, 1000, "f", 300), "[############............]  f");  // half of 24 cells
}

// Without a terminal, a plain line every `every` steps and at the last: no carriage return, no
// escape sequence.
BOOST_AUTO_TEST_CASE(progress_without_a_terminal_prints_plain_lines) {
    std::ostringstream out;
    Progress progress(out, -1, 7, 3);
    for (int64_t step = 1; step <= 7; ++step) progress.update(step, 0.5, 0.25, 1000, 0.01);
    progress.finish();
    const std::string text = out.str();
    BOOST_CHECK_EQUAL(text.find('\r'), std::string::npos);
    BOOST_CHECK_EQUAL(text.find('\x1b'), std::string::npos);
    BOOST_CHECK_EQUAL(std::count(text.begin(), text.end(), '\n'), 3);  // steps 3, 6 and 7
    BOOST_CHECK(text.rfind("step 3/7  loss 0.5000  acc  25.0%", 0) == 0);
}

// A descriptor that is no terminal (a file) has no window size: COLUMNS, else 80.
BOOST_AUTO_TEST_CASE(terminal_columns_falls_back_to_COLUMNS_then_80) {
    TempDir dir("columns");
    const fs::path path = dir.path / "not_a_terminal";
    std::ofstream(path) << "x";
    FILE* file = std::fopen(path.string().c_str(), "r");
    BOOST_REQUIRE(file);
    const char* saved = std::getenv("COLUMNS");
    const std::string saved_value = saved ? saved : "";
    ::setenv("COLUMNS", "57", 1);
    BOOST_CHECK_EQUAL(terminal_columns(::fileno(file)), 57);
    ::unsetenv("COLUMNS");
    BOOST_CHECK_EQUAL(terminal_columns(::fileno(file)), 80);
    if (saved) ::setenv("COLUMNS", saved_value.c_str(), 1);
    std::fclose(file);
}

// An IMDB run saves its vocabulary; --predict loads the run (checkpoint, options, vocabulary) and
// classifies each line of a file. The tiny data is separable by one word, so a trained model
// gets these right.
BOOST_AUTO_TEST_CASE(imdb_run_predicts_the_lines_of_a_file) {
    TempDir dir("predict");
    fs::create_directories(dir.path / "data");
    write_tiny_imdb(dir.path / "data");
    TrainConfig c = parse({"--task", "imdb", "--model", "lstm", "--data-dir", (dir.path / "data").string(), "--embed",
                           "8", "--hidden", "8", "--batch-size", "8", "--epochs", "8", "--max-length", "12",
                           "--vocab-size", "50", "--log-every", "8", "--lr", "3e-2", "--no-eval", "--progress", "lines"});
    c.out_dir = (dir.path / "run").string();
    std::ostringstream training;
    run_training(c, training);
    const std::vector<std::string> words = lines_of(dir.path / "run" / "vocab.txt");
    BOOST_REQUIRE_GE(words.size(), 4u);
    BOOST_CHECK_EQUAL(words[0], "<pad>");
    BOOST_CHECK_EQUAL(words[1], "<unk>");
    BOOST_CHECK(std::find(words.begin(), words.end(), "good") != words.end());

    const fs::path reviews = dir.path / "reviews.txt";
    std::ofstream(reviews) << "this film was really good!\n\n   \nthis film was bad, really bad.\nnever seen words\n";
    // The command line of a prediction: --predict FILE, --out RUN; the model's options come from the run.
    TrainConfig predict = parse({"--predict", reviews.string(), "--out", c.out_dir});
    std::ostringstream out;
    run_prediction(predict, out);
    std::istringstream rows(out.str());
    std::vector<std::string> row;
    for (std::string line; std::getline(rows, line);) row.push_back(line);
    BOOST_TEST_MESSAGE(out.str());
    BOOST_REQUIRE_EQUAL(row.size(), 4u);  // the header and lines 1, 4, 5 (blank lines are no documents)
    BOOST_CHECK_EQUAL(row[0], "line\tlabel\tprobability");
    BOOST_CHECK(row[1].rfind("1\tpositive\t", 0) == 0);
    BOOST_CHECK(row[2].rfind("4\tnegative\t", 0) == 0);
    BOOST_CHECK(row[3].rfind("5\t", 0) == 0);  // only unknown words: still a document
    for (size_t k = 1; k < row.size(); ++k) {
        const double p = std::stod(row[k].substr(row[k].rfind('\t') + 1));
        BOOST_CHECK_MESSAGE(p >= 0.5 && p <= 1, row[k] << ": the probability of the label given is in [0.5, 1]");
    }
    BOOST_CHECK_GT(std::stod(row[1].substr(row[1].rfind('\t') + 1)), 0.9);  // trained: sure of the easy ones

    // What cannot be predicted says why.
    TrainConfig missing_file = predict;
    missing_file.predict = (dir.path / "absent.txt").string();
    TAPEGRAD_CHECK_ERROR(run_prediction(missing_file, out), "cannot read", "absent.txt");
    TrainConfig no_run = predict;
    no_run.out_dir = (dir.path / "nothing").string();
    TAPEGRAD_CHECK_ERROR(run_prediction(no_run, out), "no trained run in", "nothing", "--out");
    TrainConfig formal = tiny("lstm", dir.path / "formal", 2);
    run_training(formal, training);
    TrainConfig on_formal = predict;
    on_formal.out_dir = formal.out_dir;
    TAPEGRAD_CHECK_ERROR(run_prediction(on_formal, out), "IMDB run", "trained on 'bucket_sort'");
    fs::remove(dir.path / "run" / "vocab.txt");
    TAPEGRAD_CHECK_ERROR(run_prediction(predict, out), "has no vocab.txt", "train it again");
}

// Every model kind builds and trains a step on both kinds of task.
BOOST_AUTO_TEST_CASE(every_model_trains_on_a_formal_task) {
    TempDir dir("models");
    for (const char* model : {"rnn", "lstm", "gru", "bilstm", "qllstm", "prlstm", "prrnn", "transformer"}) {
        std::ostringstream out;
        TrainConfig c = tiny(model, dir.path / model, 2);
        const TrainSummary s = run_training(c, out);
        BOOST_CHECK_EQUAL(s.steps, 2);
        BOOST_CHECK_GT(s.encoder_parameters, 0);
        BOOST_CHECK_LT(s.encoder_parameters, s.parameters);
        BOOST_CHECK(std::isfinite(s.final_loss));
    }
}

namespace {

double json_number(const fs::path& summary_json, const std::string& key) {
    std::string text;
    for (const std::string& line : lines_of(summary_json)) text += line;
    const size_t at = text.find("\"" + key + "\":");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, summary_json << " has no " << key);
    return std::stod(text.substr(at + key.size() + 3));
}

// Rewrites a checkpoint with one metadata entry replaced (a damaged or hand-edited file).
void set_metadata(const fs::path& checkpoint, const std::string& key, const std::string& value) {
    auto meta = load_metadata(checkpoint.string());
    meta.erase("format");
    meta[key] = value;
    const auto tensors = load_tensors(checkpoint.string());
    save_tensors(checkpoint.string(), {tensors.begin(), tensors.end()}, meta);
}

}  // namespace

// Killed before the first log row reached the disk, the log was empty; the resumed run must still
// start it with the header.
BOOST_AUTO_TEST_CASE(resume_writes_the_log_header_after_an_empty_log) {
    TempDir dir("empty_log");
    TrainConfig c = tiny("lstm", dir.path / "run", 20);
    c.evaluate = false;
    c.checkpoint_every = 10;
    run_until_killed(c, 10);
    std::ofstream(dir.path / "run" / "log.csv", std::ios::trunc);  // what the kill left
    c.resume = (dir.path / "run" / "checkpoint.safetensors").string();
    std::ostringstream out;
    run_training(c, out);
    const auto log = lines_of(dir.path / "run" / "log.csv");
    BOOST_REQUIRE_EQUAL(log.size(), 3u);  // the header, steps 15 and 20 (5 and 10 were lost)
    BOOST_CHECK_EQUAL(log[0], "step,epoch,loss,accuracy,lr,grad_norm,tokens_per_s,elapsed_s");
    BOOST_CHECK(log[1].rfind("15,", 0) == 0 && log[2].rfind("20,", 0) == 0);
}

// Rows logged after the checkpoint are logged again by the resumed run: the first copies (and a
// half-written row) are dropped, so the log equals an uninterrupted run's.
BOOST_AUTO_TEST_CASE(resume_drops_the_log_rows_after_the_checkpoint) {
    TempDir dir("duplicates");
    std::ostringstream out;
    TrainConfig whole = tiny("lstm", dir.path / "whole", 30);
    whole.evaluate = false;
    whole.checkpoint_every = 10;
    run_training(whole, out);

    TrainConfig c = whole;
    c.out_dir = (dir.path / "parts").string();
    run_until_killed(c, 27);  // rows 5..25 logged, checkpoint at 20
    std::ofstream(dir.path / "parts" / "log.csv", std::ios::app) << "30,0,0.69";  // a row cut short
    c.resume = (dir.path / "parts" / "checkpoint.safetensors").string();
    run_training(c, out);
    const auto expected = log_without_timings(dir.path / "whole" / "log.csv"),
               received = log_without_timings(dir.path / "parts" / "log.csv");
    BOOST_CHECK_EQUAL(expected.size(), 7u);  // the header, steps 5..30
    BOOST_CHECK_EQUAL_COLLECTIONS(expected.begin(), expected.end(), received.begin(), received.end());
}

// A resume from the final checkpoint (the run was killed during the evaluation) reports the
// final loss and accuracy of the training, not zeros.
BOOST_AUTO_TEST_CASE(resume_at_the_last_step_keeps_the_final_metrics) {
    TempDir dir("last_step");
    std::ostringstream out;
    TrainConfig c = tiny("gru", dir.path / "run", 12);
    const TrainSummary first = run_training(c, out);
    const fs::path summary_json = dir.path / "run" / "summary.json";
    BOOST_REQUIRE_GT(first.final_loss, 0);
    c.resume = (dir.path / "run" / "checkpoint.safetensors").string();
    const TrainSummary again = run_training(c, out);
    BOOST_CHECK_EQUAL(again.final_loss, first.final_loss);
    BOOST_CHECK_EQUAL(again.final_accuracy, first.final_accuracy);
    BOOST_CHECK_EQUAL(json_number(summary_json, "final_loss"), first.final_loss);
    BOOST_CHECK_EQUAL(json_number(summary_json, "final_accuracy"), first.final_accuracy);
    BOOST_CHECK_EQUAL(json_number(summary_json, "score"), first.score);
}

// Temporary files of killed runs (name.tmp.<pid>) are removed by the next run in that folder;
// files that are not the trainer's, and those of a live process, are left alone.
BOOST_AUTO_TEST_CASE(run_removes_stale_temporary_files) {
    TempDir dir("stale");
    const fs::path run = dir.path / "run";
    fs::create_directories(run);
    const std::string live = std::to_string(::getppid());
    for (const std::string& name : std::vector<std::string>{"checkpoint.safetensors.tmp.999999999", "log.csv.tmp.999999998",
                                   "summary.json.tmp." + std::to_string(::getpid()), "lengths.csv.tmp.999999997",
                                   "notes.txt.tmp.999999999", "log.csv.tmp." + live})
        std::ofstream(run / name) << "partial";
    std::ostringstream out;
    run_training(tiny("lstm", run, 3), out);
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(run))
        if (entry.path().filename().string().find(".tmp.") != std::string::npos) left.push_back(entry.path().filename());
    std::sort(left.begin(), left.end());
    const std::vector<std::string> expected = {"log.csv.tmp." + live, "notes.txt.tmp.999999999"};
    BOOST_CHECK_EQUAL_COLLECTIONS(left.begin(), left.end(), expected.begin(), expected.end());
}

// Position entries of the metadata are parsed strictly: a negative or non-numeric value is an
// error naming the file, the key and the value.
BOOST_AUTO_TEST_CASE(resume_rejects_malformed_checkpoint_metadata) {
    TempDir dir("metadata");
    std::ostringstream out;
    TrainConfig c = tiny("lstm", dir.path / "run", 3);
    c.evaluate = false;
    const fs::path checkpoint = dir.path / "run" / "checkpoint.safetensors";
    c.resume = checkpoint.string();
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"step", "-1"}, {"step", "abc"}, {"step", "3x"}, {"data_offset", ""}, {"epoch", "99999999999999999999"}}) {
        TrainConfig fresh = c;
        fresh.resume.clear();
        run_training(fresh, out);
        set_metadata(checkpoint, key, value);
        const std::string quoted_key = "'" + key + "'", quoted_value = "'" + value + "'";
        TAPEGRAD_CHECK_ERROR(run_training(c, out), "checkpoint.safetensors", quoted_key.c_str(), quoted_value.c_str());
    }
}

// A resume with an option that changes what is trained is refused, naming the option and both
// values; --force-resume accepts it with a warning. Options that do not change the result
// (log interval, checkpoint interval, progress style) may differ.
BOOST_AUTO_TEST_CASE(resume_refuses_changed_options_unless_forced) {
    TempDir dir("options");
    std::ostringstream out;
    TrainConfig c = tiny("lstm", dir.path / "run", 4);
    c.evaluate = false;
    run_training(c, out);
    const std::string checkpoint = (dir.path / "run" / "checkpoint.safetensors").string();

    TrainConfig lr = c;
    lr.resume = checkpoint;
    lr.lr = 2e-3;
    TAPEGRAD_CHECK_ERROR(run_training(lr, out), "cannot resume", "--lr", "0.001", "0.002", "--force-resume");
    TrainConfig steps = lr;
    steps.lr = c.lr;
    steps.steps = 8;
    steps.schedule = "cosine";
    TAPEGRAD_CHECK_ERROR(run_training(steps, out), "--schedule", "constant", "cosine");
    TrainConfig seed = c;
    seed.resume = checkpoint;
    seed.seed = 7;
    TAPEGRAD_CHECK_ERROR(run_training(seed, out), "--seed", "0", "7");

    TrainConfig harmless = c;
    harmless.resume = checkpoint;
    harmless.steps = 4;
    harmless.log_every = 2;
    harmless.checkpoint_every = 1;
    BOOST_CHECK_NO_THROW(run_training(harmless, out));

    lr.force_resume = true;
    std::ostringstream forced;
    lr.steps = 6;
    BOOST_CHECK_EQUAL(run_training(lr, forced).steps, 6);
    BOOST_CHECK_MESSAGE(forced.str().find("--lr 0.002") != std::string::npos, forced.str());
    BOOST_CHECK_EQUAL(load_metadata(checkpoint).at("--lr"), "0.002");  // the checkpoint now says what made it
}
