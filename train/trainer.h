/// \file
/// The training loop behind tapegrad-train: one task (IMDB or a formal-language task), one model,
/// one optimizer; progress on a stream, a CSV log, atomic safetensors checkpoints, resume that
/// reproduces an uninterrupted run bit for bit, and a clean stop on SIGINT.
///
/// Files in config.out_dir (each written whole through a temporary file and a rename, except the
/// log's rows, appended and flushed one by one; a run first removes the temporaries of killed runs):
///   log.csv                  step,epoch,loss,accuracy,lr,grad_norm,tokens_per_s,elapsed_s (one row per
///                            log_every steps; mean loss/accuracy over those steps; elapsed_s counts
///                            this process's training time). A resume keeps the rows up to the
///                            checkpoint's step and logs the rest again, so after any kills and
///                            resumes the log has one header and one row per logged step, the
///                            same rows as an uninterrupted run (timings aside).
///   checkpoint.safetensors   parameters, optimizer state, and in its metadata the loop's position:
///                            step, epoch, batch within the epoch, the data stream's offset and the
///                            dropout streams' offsets (everything the next step depends on), the
///                            open log window's sums, the last logged loss and accuracy, and the
///                            run-defining options
///                            (under their names, "--lr"), which a resume must repeat unless forced
///   lengths.csv              formal tasks: length,accuracy at every test length
///   vocab.txt                IMDB: the vocabulary, one word a line in id order (for --predict)
///   summary.json             the configuration and the results
///
/// Random streams (all counter-based Philox, so a stream is restored by its offset):
///   parameters: Generator(seed);  formal batches: Generator(seed + 1);
///   IMDB epoch e's batch order: Generator(seed + 1, offset e * 2^40);  dropout: the model's own.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "../core/device.h"
#include "../data/formal_tasks.h"
#include "../data/imdb.h"
#include "task_model.h"

namespace tapegrad::train {

/// How progress is shown: Auto, a bar on a terminal and lines otherwise; Bar, always the bar; Lines, always a line every log_every steps.
enum class ProgressStyle { Auto, Bar, Lines };

/// Everything that defines and runs one training run (tapegrad-train's options).
struct TrainConfig {
    std::string task = "parity_check";  ///< "imdb" or a formal task name (data::task_name)
    ModelConfig model;  ///< the model and its sizes
    std::string optimizer = "adam";     ///< adam, adamw, sgd
    /// the optimizer's step size, weight decay and momentum (SGD)
    ///@{
    double lr = 1e-3, weight_decay = 0.0, momentum = 0.0;
    ///@}
    std::string schedule = "constant";  ///< constant, warmup, cosine
    int64_t warmup_steps = 0;  ///< warm-up steps of the warmup and cosine schedules
    int64_t batch_size = 32;  ///< sequences per batch
    int64_t steps = 0;   ///< total optimizer steps (formal tasks; IMDB when epochs == 0)
    int64_t epochs = 0;  ///< IMDB: passes over the training split (overrides steps)
    double clip = 1.0;   ///< global gradient-norm clip; 0 = off
    uint64_t seed = 0;  ///< seeds the parameters and the batches (see the file's description)
    Device device = Device::cpu();  ///< where the model trains

    std::string out_dir = "runs/default";  ///< the run's folder (its files: the file's description)
    int64_t log_every = 50;          ///< CSV row and, without a terminal, a progress line
    int64_t checkpoint_every = 0;    ///< 0: only at the end (and on SIGINT)
    std::string resume;              ///< a checkpoint to continue from
    bool force_resume = false;       ///< resume even if the run-defining options differ (with a warning)
    ProgressStyle progress = ProgressStyle::Auto;  ///< bar, lines, or by whether the output is a terminal
    bool evaluate = true;            ///< test evaluation at the end
    std::string predict;             ///< a text file: classify its lines with the IMDB run in out_dir
                                     ///< instead of training (train/predict.h)

    data::LengthProtocol protocol;   ///< formal tasks
    data::ImdbConfig imdb;           ///< IMDB
    int64_t train_subset = 0;        ///< IMDB: use only the first N (shuffled) training reviews; 0 = all
    int64_t test_subset = 0;         ///< IMDB: evaluate on N test reviews drawn at random; 0 = all

    std::string command;             ///< the command line, recorded in summary.json
    /// Test hook: called after every completed step with the step number (1-based).
    std::function<void(int64_t)> after_step;
};

/// What a run did and scored (summary.json's results).
struct TrainSummary {
    /// optimizer steps taken and epochs completed
    ///@{
    int64_t steps = 0, epochs_done = 0;
    ///@}
    bool stopped_early = false;     ///< a stop request (SIGINT) ended the run
    double train_seconds = 0;       ///< in training steps (this process), evaluation excluded
    double tokens_per_second = 0;   ///< training tokens (real, unpadded) per second
    double seconds_per_epoch = 0;   ///< IMDB
    /// mean over the last log window
    ///@{
    double final_loss = 0, final_accuracy = 0;
    ///@}
    /// parameters of the whole model and of its sequence encoder alone
    ///@{
    int64_t parameters = 0, encoder_parameters = 0;
    ///@}
    /// Formal tasks: accuracy per test length and the score (their mean).
    std::vector<data::LengthAccuracy> lengths;
    double score = 0;  ///< the mean test accuracy over the test lengths
    bool solved = false;  ///< score >= the protocol's solved_threshold
    /// IMDB: test accuracy and the F1 of the positive class.
    /// IMDB: test accuracy and the F1 of the positive class
    ///@{
    double test_accuracy = 0, test_f1 = 0;
    ///@}
    int64_t test_examples = 0;  ///< test reviews evaluated
};

/// Runs the configured training; progress and the final summary table go to `out`.
TrainSummary run_training(const TrainConfig& config, std::ostream& out);

/// SIGINT handling: the handler only sets a flag; the loop checks it after every step, saves a
/// checkpoint and returns with stopped_early set.
void install_stop_handler();
/// Whether a stop was requested (Ctrl-C, SIGINT): the run then checkpoints and ends.
bool stop_requested();
/// Forgets a stop request (before a new run in the same process).
void clear_stop_request();

/// The summary as an aligned two-column table.
std::string summary_table(const TrainConfig& config, const TrainSummary& summary);

}  // namespace tapegrad::train
