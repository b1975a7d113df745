/// \file
/// The 15 formal-language tasks of Delétang et al. (2023), "Neural Networks and the Chomsky
/// Hierarchy", as the PR-LSTM code ran them: the generators of the reference code,
/// github.com/google-deepmind/neural_networks_chomsky_hierarchy (tasks/regular, tasks/dcf,
/// tasks/cs; docs/PR-LSTM.md, "Sources"), whose departures from the paper's text are kept, each
/// marked "quirk" where it is implemented.
///
/// A task maps an input string of tokens in {0..V-1} to an output string of L_out tokens in
/// {0..O-1}. Every sequence of a batch has the same length ℓ. The model reads the input one-hot
/// over V+1 symbols, followed by L_out "empty" tokens (symbol V), and predicts the output at those
/// L_out positions (model_input below).
///
/// Randomness: tapegrad's counter-based Philox Generator (data/random_draws.h), so a batch is
/// reproduced by (seed, offset) on every platform. The distributions are those of the reference;
/// the reference's JAX/numpy random streams are not (and need not be) reproduced.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../core/random.h"
#include "../core/tensor.h"

namespace tapegrad::data {

/// The 15 tasks: the first four regular, the next four context-free, the last seven context-sensitive.
enum class FormalTask {
    EvenPairs, ModularArithmetic, ParityCheck, CycleNavigation,                   // regular
    StackManipulation, ReverseString, ModularArithmeticBrackets, SolveEquation,  // context-free
    DuplicateString, MissingDuplicateString, OddsFirst, BinaryAddition,          // context-sensitive
    BinaryMultiplication, ComputeSqrt, BucketSort,
};

/// All 15, in the order of the paper's tables.
const std::vector<FormalTask>& all_formal_tasks();
/// "even_pairs", "modular_arithmetic", ... (the reference's task names).
std::string task_name(FormalTask task);
/// The inverse of task_name; an unknown name is an Error listing the valid ones.
FormalTask parse_formal_task(const std::string& name);

/// V: input symbols.
int64_t input_vocab_size(FormalTask task);
/// O: output classes.
int64_t output_vocab_size(FormalTask task);
/// The length of the input string actually generated for requested length ℓ: ℓ, except
/// modular_arithmetic, which (quirk) makes an even ℓ odd by subtracting 1.
int64_t input_length(FormalTask task, int64_t length);
/// L_out(ℓ).
int64_t output_length(FormalTask task, int64_t length);
/// True for the three tasks whose accuracy counts only positions up to and including the
/// termination token: stack_manipulation, binary_addition, binary_multiplication.
bool has_termination_mask(FormalTask task);

/// One sequence: input tokens (input_length(ℓ) of them) and target classes (output_length(ℓ)).
struct FormalExample {
    std::vector<int64_t> input;  ///< the input tokens, in {0..V-1}
    std::vector<int64_t> target;  ///< the target classes, in {0..O-1}
};
/// One sequence of `task` at requested length ℓ = `length`.
FormalExample generate_example(FormalTask task, int64_t length, Generator& gen);

/// The accuracy mask of one target: all ones, or for the termination tasks ones up to and
/// including the first termination token (class 2) and zeros after it.
std::vector<float> accuracy_mask(FormalTask task, const std::vector<int64_t>& target);

/// B sequences of one task and one length, as tensors.
struct FormalBatch {
    int64_t length = 0;  ///< the requested ℓ
    Tensor inputs;       ///< [B, input_length(ℓ)] Int64, tokens in {0..V-1}
    Tensor targets;      ///< [B, L_out] Int64, classes in {0..O-1}
    Tensor mask;         ///< [B, L_out] Float32, 1 where the position counts for accuracy
};
/// `batch_size` sequences of `task` at requested length `length`.
FormalBatch generate_batch(FormalTask task, int64_t batch_size, int64_t length, Generator& gen);

/// The model's input: one-hot of each token over V+1 symbols, then output_length empty tokens
/// (symbol V):  inputs [B, T] Int64 -> [B, T + output_length, V+1] of `dtype` (Float32/Float64).
Tensor model_input(const Tensor& inputs, int64_t input_vocab, int64_t output_length,
                   DType dtype = DType::Float32, Device device = Device::cpu());

/// Σ mask · 1[argmax_o logits == target] / Σ mask, pooled over all tokens of the batch.
///   logits [B, L_out, O] (float, any device), targets [B, L_out] Int64, mask [B, L_out] Float32.
double masked_accuracy(const Tensor& logits, const Tensor& targets, const Tensor& mask);

/// The length-generalization protocol (Delétang et al.; PR-LSTM paper's defaults).
struct LengthProtocol {
    int64_t min_train_length = 1;  ///< the shortest training ℓ
    int64_t max_train_length = 40;   ///< one ℓ ~ U{min..max} per training batch
    int64_t min_test_length = 41;  ///< the shortest test ℓ
    int64_t max_test_length = 500;   ///< every length min..max is evaluated
    int64_t test_batches_per_length = 8;  ///< batches evaluated at each test length
    int64_t test_batch_size = 64;    ///< 8 x 64 = 512 sequences per length
    uint64_t test_seed = 1;  ///< seeds the test streams (test_generator)
    double solved_threshold = 0.9;   ///< "solved" = score >= 90%
};

/// ℓ for the next training batch.
int64_t sample_training_length(const LengthProtocol& protocol, Generator& gen);
/// min_test_length, ..., max_test_length.
std::vector<int64_t> test_lengths(const LengthProtocol& protocol);
/// The test stream for one length: Generator(test_seed) starting at counter length * 2^40, so
/// each length's sequences are fixed and independent of which other lengths are evaluated.
Generator test_generator(const LengthProtocol& protocol, int64_t length);

/// The accuracy at one test length.
struct LengthAccuracy {
    int64_t length;  ///< the requested ℓ
    double accuracy;  ///< mean of the per-batch masked accuracies
};
/// Evaluates `predict` (model input [B, ℓ' + L_out, V+1] Float32 and L_out -> logits [B, L_out, O])
/// at every test length.
std::vector<LengthAccuracy> evaluate_lengths(FormalTask task, const LengthProtocol& protocol,
                                             const std::function<Tensor(const Tensor&, int64_t)>& predict);
/// The score: the mean accuracy over the test lengths.
double length_score(const std::vector<LengthAccuracy>& accuracies);
/// Whether `score` reaches the protocol's solved_threshold.
bool is_solved(double score, const LengthProtocol& protocol);

}  // namespace tapegrad::data
