#include "formal_tasks.h"

#include <algorithm>

#include "../core/error.h"
#include "big_uint.h"
#include "random_draws.h"

namespace tapegrad::data {

namespace {

struct TaskSpec {
    FormalTask task;
    const char* name;
    int64_t input_vocab;   // V
    int64_t output_vocab;  // O
};

const TaskSpec kTasks[] = {
    {FormalTask::EvenPairs, "even_pairs", 2, 2},
    {FormalTask::ModularArithmetic, "modular_arithmetic", 9, 5},
    {FormalTask::ParityCheck, "parity_check", 2, 2},
    {FormalTask::CycleNavigation, "cycle_navigation", 3, 5},
    {FormalTask::StackManipulation, "stack_manipulation", 5, 3},
    {FormalTask::ReverseString, "reverse_string", 2, 2},
    {FormalTask::ModularArithmeticBrackets, "modular_arithmetic_brackets", 11, 5},
    {FormalTask::SolveEquation, "solve_equation", 11, 5},
    {FormalTask::DuplicateString, "duplicate_string", 2, 2},
    {FormalTask::MissingDuplicateString, "missing_duplicate_string", 4, 2},
    {FormalTask::OddsFirst, "odds_first", 2, 2},
    {FormalTask::BinaryAddition, "binary_addition", 3, 3},
    {FormalTask::BinaryMultiplication, "binary_multiplication", 3, 3},
    {FormalTask::ComputeSqrt, "compute_sqrt", 2, 2},
    {FormalTask::BucketSort, "bucket_sort", 5, 5},
};

const TaskSpec& spec(FormalTask task) {
    for (const TaskSpec& s : kTasks)
        if (s.task == task) return s;
    fail("formal_tasks", "unknown task id {}", int(task));
}

constexpr int64_t kTermination = 2;  // output class ending the answer of the three masked tasks

int64_t mod5(int64_t value) { return ((value % 5) + 5) % 5; }

std::vector<int64_t> random_tokens(int64_t count, int64_t vocab, Generator& gen) {
    std::vector<int64_t> tokens(static_cast<size_t>(count));
    for (int64_t& t : tokens) t = random_int(gen, 0, vocab - 1);
    return tokens;
}

// Token ids of the expression symbols; digits 0..4 are their own ids.
struct ExpressionTokens {
    int64_t plus, minus, times, open, close;
};
constexpr ExpressionTokens kBracketTokens{5, 6, 7, 8, 9};    // modular_arithmetic_brackets
constexpr ExpressionTokens kEquationTokens{5, 6, -1, 7, 8};  // solve_equation (no '*')

// Appends a bracketed expression of exactly `length` tokens to `out` and returns its value mod 5:
//   1: d    2: -d    3: (d)    4: (-d)    >= 5: ( gen(a) op gen(length-3-a) ),  a ~ U{1..length-4}
// with op uniform in {+, -, *} (or {+, -} without times).
int64_t append_expression(int64_t length, bool with_times, const ExpressionTokens& tokens, Generator& gen,
                          std::vector<int64_t>& out) {
    if (length <= 4) {
        int64_t digit = random_int(gen, 0, 4);
        bool bracketed = length >= 3, negated = length % 2 == 0;
        if (bracketed) out.push_back(tokens.open);
        if (negated) out.push_back(tokens.minus);
        out.push_back(digit);
        if (bracketed) out.push_back(tokens.close);
        return negated ? mod5(-digit) : digit;
    }
    int64_t left_length = random_int(gen, 1, length - 4);
    int64_t op = random_int(gen, 0, with_times ? 2 : 1);
    out.push_back(tokens.open);
    int64_t left = append_expression(left_length, with_times, tokens, gen, out);
    out.push_back(op == 0 ? tokens.plus : op == 1 ? tokens.minus : tokens.times);
    int64_t right = append_expression(length - 3 - left_length, with_times, tokens, gen, out);
    out.push_back(tokens.close);
    return op == 0 ? mod5(left + right) : op == 1 ? mod5(left - right) : mod5(left * right);
}

// "d op d op ... d" with * before + and -; the value mod 5. Ids: digits 0..4, + 5, - 6, * 7.
FormalExample modular_arithmetic(int64_t length, Generator& gen) {
    FormalExample ex;
    const int64_t ops[] = {5, 7, 6};  // uniform over {+, *, -}
    int64_t total = 0, sign = 1, product = random_int(gen, 0, 4);
    ex.input.push_back(product);
    for (int64_t i = 1; i < length; i += 2) {
        int64_t op = ops[random_int(gen, 0, 2)], digit = random_int(gen, 0, 4);
        ex.input.insert(ex.input.end(), {op, digit});
        if (op == 7) {
            product = product * digit % 5;
        } else {
            total += sign * product;
            sign = op == 5 ? 1 : -1;
            product = digit;
        }
    }
    ex.target = {mod5(total + sign * product)};
    return ex;
}

// k ~ U{1..ℓ-1} stack bits (bottom to top), then ℓ-k actions: 2 POP, 3 PUSH 0, 4 PUSH 1.
// Target: the final stack top to bottom, the termination token, zeros up to ℓ+1.
FormalExample stack_manipulation(int64_t length, Generator& gen) {
    FormalExample ex;
    if (length == 1) {
        int64_t bit = random_int(gen, 0, 1);
        return {{bit}, {bit, kTermination}};
    }
    int64_t stack_size = random_int(gen, 1, length - 1);
    ex.input = random_tokens(stack_size, 2, gen);
    std::vector<int64_t> stack = ex.input;
    for (int64_t i = stack_size; i < length; ++i) {
        int64_t action = random_int(gen, 2, 4);
        ex.input.push_back(action);
        if (action == 2) {
            if (!stack.empty()) stack.pop_back();  // POP on an empty stack is ignored
        } else {
            stack.push_back(action - 3);
        }
    }
    ex.target.assign(stack.rbegin(), stack.rend());
    ex.target.push_back(kTermination);
    ex.target.resize(size_t(length + 1), 0);
    return ex;
}

FormalExample solve_equation(int64_t length, Generator& gen) {
    if (length < 3) return {std::vector<int64_t>(size_t(length), 0), {0}};  // degenerate, as the reference
    FormalExample ex;
    int64_t value = append_expression(length - 2, false, kEquationTokens, gen, ex.input);
    int64_t expression_length = length - 2;
    int64_t index = random_int(gen, 0, expression_length - 1);
    while (ex.input[size_t(index)] > 4) index = (index + 1) % expression_length;  // next digit, cyclically
    ex.target = {ex.input[size_t(index)]};
    ex.input[size_t(index)] = 9;  // x
    ex.input.insert(ex.input.end(), {10, value});  // "=" v
    return ex;
}

FormalExample missing_duplicate_string(int64_t length, Generator& gen) {
    if (length == 1) return {{1}, {1}};
    int64_t half = length / 2;
    FormalExample ex;
    ex.input = random_tokens(half, 2, gen);
    ex.input.insert(ex.input.end(), ex.input.begin(), ex.input.end());
    int64_t missing = random_int(gen, 0, 2 * half - 1);
    ex.target = {ex.input[size_t(missing)]};
    ex.input[size_t(missing)] = 2;
    if (length % 2 == 1) ex.input.push_back(3);
    return ex;
}

// Binary digits of n, least significant first, padded with zeros to `width`.
std::vector<int64_t> padded_bits_le(const BigUint& n, int64_t width) {
    std::vector<int64_t> bits = n.bits_le();
    bits.resize(size_t(width), 0);
    return bits;
}

// The answer of binary addition/multiplication: unpadded little-endian bits ("0" for zero),
// the termination token, zeros up to output_length.
std::vector<int64_t> terminated_answer(const BigUint& n, int64_t output_length) {
    std::vector<int64_t> target = n.is_zero() ? std::vector<int64_t>{0} : n.bits_le();
    target.push_back(kTermination);
    target.resize(size_t(output_length), 0);
    return target;
}

// ℓ >= 3: len_n ~ U{1..ℓ-2}, len_m = ℓ-1-len_n, n ~ U[1, 2^len_n - 1], m ~ U[1, 2^len_m - 1];
// input = n (len_n bits, little-endian, zero-padded), 2 ('+' / '*'), m (len_m bits).
FormalExample binary_operation(int64_t length, bool multiply, Generator& gen) {
    int64_t n_bits = random_int(gen, 1, length - 2), m_bits = length - 1 - n_bits;
    BigUint n = BigUint::random_nonzero(n_bits, gen), m = BigUint::random_nonzero(m_bits, gen);
    FormalExample ex;
    ex.input = padded_bits_le(n, n_bits);
    ex.input.push_back(2);
    std::vector<int64_t> m_digits = padded_bits_le(m, m_bits);
    ex.input.insert(ex.input.end(), m_digits.begin(), m_digits.end());
    ex.target = multiply ? terminated_answer(n * m, length) : terminated_answer(n + m, length + 1);
    return ex;
}

// ℓ <= 2 leaves no room for "n op m", so both binary tasks then read one number n ~ U[0, 2^ℓ - 2],
// as ℓ little-endian bits, with no operator: at ℓ = 1 always 0, at ℓ = 2 one of 0, 1, 2 (never 3).
BigUint short_operand(int64_t length, Generator& gen) {
    return BigUint(uint64_t(random_int(gen, 0, (int64_t(1) << length) - 2)));
}

FormalExample binary_addition(int64_t length, Generator& gen) {
    if (length <= 2) {  // the answer is n itself
        BigUint n = short_operand(length, gen);
        return {padded_bits_le(n, length), terminated_answer(n, length + 1)};
    }
    return binary_operation(length, false, gen);
}

FormalExample binary_multiplication(int64_t length, Generator& gen) {
    if (length <= 2) {  // no product: the reference's fixed answer is ℓ-1 zeros, then termination
        std::vector<int64_t> target(size_t(length), 0);
        target.back() = kTermination;
        return {padded_bits_le(short_operand(length, gen), length), target};
    }
    return binary_operation(length, true, gen);
}

// quirk: big-endian (the paper text says little-endian). n ~ U[1, 2^ℓ - 1] padded to ℓ digits,
// target isqrt(n) padded to ceil(ℓ/2) digits.
FormalExample compute_sqrt(int64_t length, Generator& gen) {
    BigUint n = BigUint::random_nonzero(length, gen), root = isqrt(n);
    int64_t root_digits = (length + 1) / 2;
    FormalExample ex;
    for (int64_t i = length - 1; i >= 0; --i) ex.input.push_back(n.bit(i));
    for (int64_t i = root_digits - 1; i >= 0; --i) ex.target.push_back(root.bit(i));
    return ex;
}

}  // namespace

const std::vector<FormalTask>& all_formal_tasks() {
    static const std::vector<FormalTask> tasks = [] {
        std::vector<FormalTask> t;
        for (const TaskSpec& s : kTasks) t.push_back(s.task);
        return t;
    }();
    return tasks;
}

std::string task_name(FormalTask task) { return spec(task).name; }

FormalTask parse_formal_task(const std::string& name) {
    std::string valid;
    for (const TaskSpec& s : kTasks) {
        if (name == s.name) return s.task;
        valid += std::string(valid.empty() ? "" : ", ") + s.name;
    }
    fail("formal_tasks", "unknown task '{}' (expected one of: {})", name, valid);
}

int64_t input_vocab_size(FormalTask task) { return spec(task).input_vocab; }
int64_t output_vocab_size(FormalTask task) { return spec(task).output_vocab; }

int64_t input_length(FormalTask task, int64_t length) {
    // quirk: the reference subtracts 1 from an even length (the paper text says adds 1).
    if (task == FormalTask::ModularArithmetic && length % 2 == 0) return length - 1;
    return length;
}

int64_t output_length(FormalTask task, int64_t length) {
    switch (task) {
        case FormalTask::StackManipulation:
        case FormalTask::BinaryAddition: return length + 1;
        case FormalTask::ReverseString:
        case FormalTask::OddsFirst:
        case FormalTask::BinaryMultiplication:
        case FormalTask::BucketSort: return length;
        case FormalTask::DuplicateString: return 2 * length;
        case FormalTask::ComputeSqrt: return (length + 1) / 2;
        default: return 1;
    }
}

bool has_termination_mask(FormalTask task) {
    return task == FormalTask::StackManipulation || task == FormalTask::BinaryAddition ||
           task == FormalTask::BinaryMultiplication;
}

FormalExample generate_example(FormalTask task, int64_t length, Generator& gen) {
    if (length < 1) fail("generate_example", "{}: length is {} (expected >= 1)", task_name(task), length);
    switch (task) {
        case FormalTask::EvenPairs: {
            // (number of i with s_i != s_{i+1}) mod 2, which is s_0 != s_{ℓ-1}.
            std::vector<int64_t> s = random_tokens(length, 2, gen);
            return {s, {int64_t(s.front() != s.back())}};
        }
        case FormalTask::ModularArithmetic: return modular_arithmetic(input_length(task, length), gen);
        case FormalTask::ParityCheck: {
            std::vector<int64_t> s = random_tokens(length, 2, gen);
            int64_t ones = 0;
            for (int64_t bit : s) ones += bit;
            return {s, {ones % 2}};
        }
        case FormalTask::CycleNavigation: {
            // quirk: move = token - 1 (0 back, 1 stay, 2 forward) on a cycle of 5 positions.
            std::vector<int64_t> s = random_tokens(length, 3, gen);
            int64_t position = 0;
            for (int64_t t : s) position += t - 1;
            return {s, {mod5(position)}};
        }
        case FormalTask::StackManipulation: return stack_manipulation(length, gen);
        case FormalTask::ReverseString: {
            std::vector<int64_t> s = random_tokens(length, 2, gen);
            return {s, std::vector<int64_t>(s.rbegin(), s.rend())};
        }
        case FormalTask::ModularArithmeticBrackets: {
            FormalExample ex;
            ex.target = {append_expression(length, true, kBracketTokens, gen, ex.input)};
            return ex;
        }
        case FormalTask::SolveEquation: return solve_equation(length, gen);
        case FormalTask::DuplicateString: {
            std::vector<int64_t> s = random_tokens(length, 2, gen), doubled = s;
            doubled.insert(doubled.end(), s.begin(), s.end());
            return {s, doubled};
        }
        case FormalTask::MissingDuplicateString: return missing_duplicate_string(length, gen);
        case FormalTask::OddsFirst: {
            // quirk: s[1::2] then s[0::2] (0-based odd indices first; the paper text swaps them).
            std::vector<int64_t> s = random_tokens(length, 2, gen), target;
            for (int64_t i = 1; i < length; i += 2) target.push_back(s[size_t(i)]);
            for (int64_t i = 0; i < length; i += 2) target.push_back(s[size_t(i)]);
            return {s, target};
        }
        case FormalTask::BinaryAddition: return binary_addition(length, gen);
        case FormalTask::BinaryMultiplication: return binary_multiplication(length, gen);
        case FormalTask::ComputeSqrt: return compute_sqrt(length, gen);
        case FormalTask::BucketSort: {
            std::vector<int64_t> s = random_tokens(length, 5, gen), sorted = s;
            std::sort(sorted.begin(), sorted.end());
            return {s, sorted};
        }
    }
    fail("generate_example", "unknown task id {}", int(task));
}

std::vector<float> accuracy_mask(FormalTask task, const std::vector<int64_t>& target) {
    std::vector<float> mask(target.size(), 1.0f);
    if (!has_termination_mask(task)) return mask;
    auto end = std::find(target.begin(), target.end(), kTermination);
    if (end != target.end()) std::fill(mask.begin() + (end - target.begin()) + 1, mask.end(), 0.0f);
    return mask;
}

FormalBatch generate_batch(FormalTask task, int64_t batch_size, int64_t length, Generator& gen) {
    if (batch_size < 1) fail("generate_batch", "{}: batch_size is {} (expected >= 1)", task_name(task), batch_size);
    int64_t in_len = input_length(task, length), out_len = output_length(task, length);
    std::vector<int64_t> inputs, targets;
    std::vector<float> mask;
    for (int64_t b = 0; b < batch_size; ++b) {
        FormalExample ex = generate_example(task, length, gen);
        inputs.insert(inputs.end(), ex.input.begin(), ex.input.end());
        targets.insert(targets.end(), ex.target.begin(), ex.target.end());
        std::vector<float> m = accuracy_mask(task, ex.target);
        mask.insert(mask.end(), m.begin(), m.end());
    }
    FormalBatch batch;
    batch.length = length;
    batch.inputs = Tensor::from_vector(inputs, {batch_size, in_len});
    batch.targets = Tensor::from_vector(targets, {batch_size, out_len});
    batch.mask = Tensor::from_vector(mask, {batch_size, out_len});
    return batch;
}

Tensor model_input(const Tensor& inputs, int64_t input_vocab, int64_t output_length, DType dtype, Device device) {
    if (inputs.dtype() != DType::Int64 || inputs.dim() != 2)
        fail("model_input", "inputs is {} (expected [B, T] int64)", inputs.describe());
    if (!is_floating(dtype)) fail("model_input", "dtype is {} (expected float32 or float64)", to_string(dtype));
    if (input_vocab < 1 || output_length < 0)
        fail("model_input", "input_vocab {} and output_length {} (expected >= 1 and >= 0)", input_vocab, output_length);
    int64_t batch = inputs.size(0), length = inputs.size(1), steps = length + output_length, width = input_vocab + 1;
    std::vector<int64_t> tokens = inputs.to_vector<int64_t>();
    std::vector<double> one_hot(size_t(batch * steps * width), 0.0);  // [B, T + L_out, V+1]
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < steps; ++t) {
            int64_t symbol = t < length ? tokens[size_t(b * length + t)] : input_vocab;  // V = empty token
            if (t < length && (symbol < 0 || symbol >= input_vocab))
                fail("model_input", "token {} at [{}, {}] is outside the vocabulary [0, {})", symbol, b, t, input_vocab);
            one_hot[size_t((b * steps + t) * width + symbol)] = 1.0;
        }
    Shape shape{batch, steps, width};
    if (dtype == DType::Float64) return Tensor::from_vector(one_hot, shape, device);
    return Tensor::from_vector(std::vector<float>(one_hot.begin(), one_hot.end()), shape, device);
}

double masked_accuracy(const Tensor& logits, const Tensor& targets, const Tensor& mask) {
    if (logits.dim() != 3 || targets.dim() != 2 || mask.dim() != 2 || targets.dtype() != DType::Int64 ||
        logits.size(0) != targets.size(0) || logits.size(1) != targets.size(1) || mask.shape() != targets.shape())
        fail("masked_accuracy", "logits {}, targets {}, mask {} (expected [B, L, O] float, [B, L] int64, [B, L])",
             logits.describe(), targets.describe(), mask.describe());
    std::vector<double> scores = logits.to_double_vector(), weights = mask.to_double_vector();
    std::vector<int64_t> classes = targets.to_vector<int64_t>();
    int64_t classes_count = logits.size(2);
    double correct = 0.0, counted = 0.0;
    for (size_t i = 0; i < classes.size(); ++i) {
        const double* row = scores.data() + i * size_t(classes_count);
        int64_t predicted = std::max_element(row, row + classes_count) - row;
        correct += weights[i] * double(predicted == classes[i]);
        counted += weights[i];
    }
    if (counted == 0.0) fail("masked_accuracy", "the mask {} selects no position", mask.describe());
    return correct / counted;
}

int64_t sample_training_length(const LengthProtocol& protocol, Generator& gen) {
    return random_int(gen, protocol.min_train_length, protocol.max_train_length);
}

std::vector<int64_t> test_lengths(const LengthProtocol& protocol) {
    std::vector<int64_t> lengths;
    for (int64_t length = protocol.min_test_length; length <= protocol.max_test_length; ++length)
        lengths.push_back(length);
    return lengths;
}

Generator test_generator(const LengthProtocol& protocol, int64_t length) {
    Generator gen(protocol.test_seed);
    gen.set_offset(uint64_t(length) << 40);
    return gen;
}

std::vector<LengthAccuracy> evaluate_lengths(FormalTask task, const LengthProtocol& protocol,
                                             const std::function<Tensor(const Tensor&, int64_t)>& predict) {
    if (protocol.test_batches_per_length < 1 || protocol.min_test_length < 1 ||
        protocol.max_test_length < protocol.min_test_length)
        fail("evaluate_lengths", "test lengths {}..{} with {} batches per length (expected 1 <= min <= max, >= 1 batch)",
             protocol.min_test_length, protocol.max_test_length, protocol.test_batches_per_length);
    std::vector<LengthAccuracy> results;
    for (int64_t length : test_lengths(protocol)) {
        Generator gen = test_generator(protocol, length);
        double total = 0.0;
        for (int64_t i = 0; i < protocol.test_batches_per_length; ++i) {
            FormalBatch batch = generate_batch(task, protocol.test_batch_size, length, gen);
            const int64_t outputs = output_length(task, length);
            Tensor x = model_input(batch.inputs, input_vocab_size(task), outputs);
            total += masked_accuracy(predict(x, outputs), batch.targets, batch.mask);
        }
        results.push_back({length, total / double(protocol.test_batches_per_length)});
    }
    return results;
}

double length_score(const std::vector<LengthAccuracy>& accuracies) {
    if (accuracies.empty()) fail("length_score", "no test lengths were evaluated");
    double total = 0.0;
    for (const LengthAccuracy& a : accuracies) total += a.accuracy;
    return total / double(accuracies.size());
}

bool is_solved(double score, const LengthProtocol& protocol) { return score >= protocol.solved_threshold; }

}  // namespace tapegrad::data
