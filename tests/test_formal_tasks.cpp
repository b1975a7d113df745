#define BOOST_TEST_MODULE formal_tasks
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "data/big_uint.h"
#include "data/formal_tasks.h"
#include "data/random_draws.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::data;
using Tokens = std::vector<int64_t>;

namespace {

const std::vector<int64_t> kLengths = {1, 2, 3, 4, 5, 6, 7, 8, 11, 16, 17, 40, 41, 64};
constexpr int kSamples = 60;  // sequences per (task, length) in the invariant checks

// ---- an independent evaluator: recursive descent over the expression grammar ------------------
//   expr := term (('+' | '-') term)*    term := factor ('*' factor)*
//   factor := digit | '-' factor | '(' expr ')'
// Token ids come from a symbol map, so the same parser reads all three expression tasks.
struct Parser {
    const Tokens& tokens;
    std::map<int64_t, char> symbols;  // token id -> one of "+-*()"
    size_t pos = 0;

    char peek() const {
        if (pos >= tokens.size()) return '$';
        int64_t t = tokens[pos];
        return t <= 4 ? 'd' : symbols.count(t) ? symbols.at(t) : '?';
    }
    int64_t factor() {
        char c = peek();
        if (c == 'd') return tokens[pos++];
        ++pos;
        if (c == '-') return -factor();
        BOOST_REQUIRE_MESSAGE(c == '(', "unexpected symbol at " << pos - 1);
        int64_t v = expr();
        BOOST_REQUIRE_MESSAGE(peek() == ')', "missing ')' at " << pos);
        ++pos;
        return v;
    }
    int64_t term() {
        int64_t v = factor();
        while (peek() == '*') ++pos, v = v * factor() % 5;
        return v;
    }
    int64_t expr() {
        int64_t v = term();
        for (char c = peek(); c == '+' || c == '-'; c = peek()) {
            ++pos;
            v += c == '+' ? term() : -term();
        }
        return v;
    }
};

int64_t evaluate(const Tokens& tokens, std::map<int64_t, char> symbols) {
    Parser p{tokens, std::move(symbols)};
    int64_t v = p.expr();
    BOOST_REQUIRE_MESSAGE(p.pos == tokens.size(), "trailing tokens after position " << p.pos);
    return ((v % 5) + 5) % 5;
}

const std::map<int64_t, char> kModularSymbols = {{5, '+'}, {6, '-'}, {7, '*'}};
const std::map<int64_t, char> kBracketSymbols = {{5, '+'}, {6, '-'}, {7, '*'}, {8, '('}, {9, ')'}};
const std::map<int64_t, char> kEquationSymbols = {{5, '+'}, {6, '-'}, {7, '('}, {8, ')'}};

// "(3*-2)" -> token ids through the inverse of a symbol map.
Tokens encode(const std::string& text, const std::map<int64_t, char>& symbols) {
    Tokens out;
    for (char c : text) {
        if (c >= '0' && c <= '4') {
            out.push_back(c - '0');
            continue;
        }
        auto it = std::find_if(symbols.begin(), symbols.end(), [c](const auto& kv) { return kv.second == c; });
        BOOST_REQUIRE(it != symbols.end());
        out.push_back(it->first);
    }
    return out;
}

// ---- independent binary arithmetic on digit vectors (least significant first) ----------------
Tokens bits_add(const Tokens& a, const Tokens& b) {
    Tokens sum;
    int64_t carry = 0;
    for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
        int64_t s = carry + (i < a.size() ? a[i] : 0) + (i < b.size() ? b[i] : 0);
        sum.push_back(s % 2);
        carry = s / 2;
    }
    return sum;
}
Tokens bits_mul(const Tokens& a, const Tokens& b) {  // shift and add
    Tokens product;
    for (size_t i = 0; i < b.size(); ++i)
        if (b[i]) {
            Tokens shifted(i, 0);
            shifted.insert(shifted.end(), a.begin(), a.end());
            product = bits_add(product, shifted);
        }
    return product;
}
Tokens bits_trim(Tokens a) {
    while (!a.empty() && a.back() == 0) a.pop_back();
    return a;
}
bool bits_less_equal(Tokens a, Tokens b) {
    a = bits_trim(a), b = bits_trim(b);
    if (a.size() != b.size()) return a.size() < b.size();
    for (size_t i = a.size(); i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i];
    return true;
}
// The answer part of a terminated target: the digits before the first 2, then only 2 and zeros.
Tokens answer_digits(const Tokens& target) {
    auto end = std::find(target.begin(), target.end(), 2);
    BOOST_REQUIRE_MESSAGE(end != target.end(), "no termination token");
    for (auto it = end + 1; it != target.end(); ++it) BOOST_REQUIRE_EQUAL(*it, 0);
    return Tokens(target.begin(), end);
}
uint64_t to_u64(const Tokens& bits_le) {
    uint64_t v = 0;
    for (size_t i = bits_le.size(); i-- > 0;) v = v * 2 + uint64_t(bits_le[i]);
    return v;
}
Tokens bits_of(uint64_t v, int64_t width) {  // the inverse of to_u64, zero-padded to width
    Tokens bits;
    for (int64_t i = 0; i < width; ++i) bits.push_back(int64_t(v >> i & 1));
    return bits;
}
std::string show(const Tokens& tokens) {  // "[1, 0, 2, 1]"
    std::string text = "[";
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? ", " : "") + std::to_string(tokens[i]);
    return text + "]";
}

// Splits a binary add/mult input "n 2 m" into (n, m) digit vectors.
std::pair<Tokens, Tokens> operands(const Tokens& input) {
    auto sep = std::find(input.begin(), input.end(), 2);
    BOOST_REQUIRE(sep != input.end());
    BOOST_REQUIRE(std::count(input.begin(), input.end(), 2) == 1);
    return {Tokens(input.begin(), sep), Tokens(sep + 1, input.end())};
}

void check_binary_operation(const FormalExample& ex, int64_t length, bool multiply) {
    auto [n, m] = operands(ex.input);
    BOOST_CHECK_GE(n.size(), 1u);
    BOOST_CHECK_GE(m.size(), 1u);
    BOOST_CHECK(!bits_trim(n).empty() && !bits_trim(m).empty());  // n, m >= 1
    Tokens expected = bits_trim(multiply ? bits_mul(n, m) : bits_add(n, m));
    Tokens answer = answer_digits(ex.target);
    BOOST_CHECK_MESSAGE(answer == expected, "length " << length << ": wrong " << (multiply ? "product" : "sum"));
    if (length <= 40) {  // and with machine integers
        uint64_t a = to_u64(n), b = to_u64(m);
        BOOST_CHECK_EQUAL(to_u64(answer), multiply ? a * b : a + b);
    }
}

// Checks one example of any task against the task's definition, recomputed independently.
void check_example(FormalTask task, int64_t length, const FormalExample& ex) {
    BOOST_REQUIRE_EQUAL(int64_t(ex.input.size()), input_length(task, length));
    BOOST_REQUIRE_EQUAL(int64_t(ex.target.size()), output_length(task, length));
    for (int64_t t : ex.input) BOOST_REQUIRE(t >= 0 && t < input_vocab_size(task));
    for (int64_t t : ex.target) BOOST_REQUIRE(t >= 0 && t < output_vocab_size(task));
    const Tokens& s = ex.input;
    int64_t label = ex.target[0];
    switch (task) {
        case FormalTask::EvenPairs: {
            int64_t changes = 0;
            for (size_t i = 0; i + 1 < s.size(); ++i) changes += s[i] != s[i + 1];
            BOOST_CHECK_EQUAL(label, changes % 2);
            BOOST_CHECK_EQUAL(label, int64_t(s.front() != s.back()));
            break;
        }
        case FormalTask::ModularArithmetic:
            BOOST_CHECK_EQUAL(int64_t(s.size()) % 2, 1);
            for (size_t i = 0; i < s.size(); ++i)
                BOOST_CHECK(i % 2 == 0 ? s[i] <= 4 : (s[i] >= 5 && s[i] <= 7));
            BOOST_CHECK_EQUAL(label, evaluate(s, kModularSymbols));
            break;
        case FormalTask::ParityCheck:
            BOOST_CHECK_EQUAL(label, std::count(s.begin(), s.end(), 1) % 2);
            break;
        case FormalTask::CycleNavigation: {
            int64_t position = 0;
            for (int64_t t : s) position = (position + (t == 0 ? 4 : t == 2 ? 1 : 0)) % 5;
            BOOST_CHECK_EQUAL(label, position);
            break;
        }
        case FormalTask::StackManipulation: {
            // The stack bits come first, then actions only (tokens >= 2).
            size_t first_action = std::find_if(s.begin(), s.end(), [](int64_t t) { return t >= 2; }) - s.begin();
            if (length > 1) BOOST_CHECK(first_action >= 1 && first_action < s.size());
            for (size_t i = first_action; i < s.size(); ++i) BOOST_CHECK_GE(s[i], 2);
            Tokens stack(s.begin(), s.begin() + first_action);  // bottom .. top
            for (size_t i = first_action; i < s.size(); ++i) {
                if (s[i] == 2 && !stack.empty()) stack.pop_back();
                if (s[i] == 3) stack.push_back(0);
                if (s[i] == 4) stack.push_back(1);
            }
            Tokens expected(stack.rbegin(), stack.rend());
            BOOST_CHECK(answer_digits(ex.target) == expected);
            break;
        }
        case FormalTask::ReverseString:
            BOOST_CHECK(Tokens(ex.target.rbegin(), ex.target.rend()) == s);
            break;
        case FormalTask::ModularArithmeticBrackets:
            BOOST_CHECK_EQUAL(label, evaluate(s, kBracketSymbols));
            BOOST_CHECK_EQUAL(std::count(s.begin(), s.end(), 10), 0);
            if (length >= 3) BOOST_CHECK(s.front() == 8 && s.back() == 9);
            break;
        case FormalTask::SolveEquation: {
            if (length < 3) {
                BOOST_CHECK(std::all_of(s.begin(), s.end(), [](int64_t t) { return t == 0; }));
                BOOST_CHECK_EQUAL(label, 0);
                break;
            }
            BOOST_CHECK_EQUAL(s[s.size() - 2], 10);  // "="
            BOOST_CHECK_LE(s.back(), 4);
            BOOST_CHECK_EQUAL(std::count(s.begin(), s.end(), 9), 1);  // one x
            Tokens substituted(s.begin(), s.end() - 2);
            std::replace(substituted.begin(), substituted.end(), int64_t(9), label);
            BOOST_CHECK_EQUAL(evaluate(substituted, kEquationSymbols), s.back());
            break;
        }
        case FormalTask::DuplicateString: {
            Tokens doubled = s;
            doubled.insert(doubled.end(), s.begin(), s.end());
            BOOST_CHECK(ex.target == doubled);
            break;
        }
        case FormalTask::MissingDuplicateString: {
            if (length == 1) {
                BOOST_CHECK(s == Tokens{1} && label == 1);
                break;
            }
            size_t half = size_t(length / 2);
            BOOST_CHECK_EQUAL(std::count(s.begin(), s.end(), 2), 1);
            BOOST_CHECK_EQUAL(s.back() == 3, length % 2 == 1);
            for (size_t i = 0; i < half; ++i) {
                int64_t a = s[i], b = s[i + half];
                if (a == 2) BOOST_CHECK_EQUAL(label, b);
                else if (b == 2) BOOST_CHECK_EQUAL(label, a);
                else BOOST_CHECK_EQUAL(a, b);
            }
            break;
        }
        case FormalTask::OddsFirst: {
            Tokens expected;  // quirk of the reference: 0-based odd indices first
            for (size_t i = 1; i < s.size(); i += 2) expected.push_back(s[i]);
            for (size_t i = 0; i < s.size(); i += 2) expected.push_back(s[i]);
            BOOST_CHECK(ex.target == expected);
            break;
        }
        case FormalTask::BinaryAddition:
        case FormalTask::BinaryMultiplication: {
            bool multiply = task == FormalTask::BinaryMultiplication;
            if (length >= 3) {
                check_binary_operation(ex, length, multiply);
                break;
            }
            // ℓ <= 2: one number n in [0, 2^ℓ - 2], no operator; the sum is n, the product fixed.
            for (int64_t t : s) BOOST_CHECK_LE(t, 1);
            uint64_t n = to_u64(s);
            BOOST_CHECK_LE(n, (uint64_t(1) << length) - 2);
            if (multiply) {
                BOOST_CHECK(ex.target == (length == 1 ? Tokens{2} : Tokens{0, 2}));
            } else {
                Tokens answer = answer_digits(ex.target);
                BOOST_CHECK_EQUAL(to_u64(answer), n);
                BOOST_CHECK(n == 0 ? answer == Tokens{0} : answer.back() == 1);
            }
            break;
        }
        case FormalTask::ComputeSqrt: {
            Tokens n(s.rbegin(), s.rend()), root(ex.target.rbegin(), ex.target.rend());  // big-endian in and out
            BOOST_CHECK(!bits_trim(n).empty());
            Tokens next = bits_add(root, {1});
            BOOST_CHECK_MESSAGE(bits_less_equal(bits_mul(root, root), n), "root^2 > n at length " << length);
            BOOST_CHECK_MESSAGE(!bits_less_equal(bits_mul(next, next), n), "(root+1)^2 <= n at length " << length);
            break;
        }
        case FormalTask::BucketSort: {
            BOOST_CHECK(std::is_sorted(ex.target.begin(), ex.target.end()));
            BOOST_CHECK(std::is_permutation(ex.target.begin(), ex.target.end(), s.begin()));
            break;
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(formal_tasks_table) {
    BOOST_CHECK_EQUAL(all_formal_tasks().size(), 15u);
    std::set<std::string> names;
    for (FormalTask task : all_formal_tasks()) {
        names.insert(task_name(task));
        BOOST_CHECK(parse_formal_task(task_name(task)) == task);
    }
    BOOST_CHECK_EQUAL(names.size(), 15u);
    TAPEGRAD_CHECK_ERROR(parse_formal_task("parity"), "unknown task 'parity'", "parity_check", "bucket_sort");

    // (task, V, O, L_out(40), L_out(41)): the task sizes of the reference generators
    // (Delétang et al., docs/PR-LSTM.md "Sources").
    struct Row { FormalTask task; int64_t v, o, out40, out41; };
    const Row rows[] = {
        {FormalTask::EvenPairs, 2, 2, 1, 1},           {FormalTask::ModularArithmetic, 9, 5, 1, 1},
        {FormalTask::ParityCheck, 2, 2, 1, 1},         {FormalTask::CycleNavigation, 3, 5, 1, 1},
        {FormalTask::StackManipulation, 5, 3, 41, 42}, {FormalTask::ReverseString, 2, 2, 40, 41},
        {FormalTask::ModularArithmeticBrackets, 11, 5, 1, 1}, {FormalTask::SolveEquation, 11, 5, 1, 1},
        {FormalTask::DuplicateString, 2, 2, 80, 82},   {FormalTask::MissingDuplicateString, 4, 2, 1, 1},
        {FormalTask::OddsFirst, 2, 2, 40, 41},         {FormalTask::BinaryAddition, 3, 3, 41, 42},
        {FormalTask::BinaryMultiplication, 3, 3, 40, 41}, {FormalTask::ComputeSqrt, 2, 2, 20, 21},
        {FormalTask::BucketSort, 5, 5, 40, 41},
    };
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT(task_name(r.task)) {
            BOOST_CHECK_EQUAL(input_vocab_size(r.task), r.v);
            BOOST_CHECK_EQUAL(output_vocab_size(r.task), r.o);
            BOOST_CHECK_EQUAL(output_length(r.task, 40), r.out40);
            BOOST_CHECK_EQUAL(output_length(r.task, 41), r.out41);
        }
    }
    int masked = 0;
    for (FormalTask task : all_formal_tasks()) masked += has_termination_mask(task);
    BOOST_CHECK_EQUAL(masked, 3);
    BOOST_CHECK(has_termination_mask(FormalTask::StackManipulation) && has_termination_mask(FormalTask::BinaryAddition) &&
                has_termination_mask(FormalTask::BinaryMultiplication));
    // quirk: even lengths of modular_arithmetic go down by one.
    BOOST_CHECK_EQUAL(input_length(FormalTask::ModularArithmetic, 2), 1);
    BOOST_CHECK_EQUAL(input_length(FormalTask::ModularArithmetic, 40), 39);
    BOOST_CHECK_EQUAL(input_length(FormalTask::ModularArithmetic, 500), 499);
    BOOST_CHECK_EQUAL(input_length(FormalTask::ModularArithmetic, 41), 41);
    BOOST_CHECK_EQUAL(input_length(FormalTask::ParityCheck, 40), 40);
}

BOOST_AUTO_TEST_CASE(expression_evaluator_hand_worked) {
    // The test's evaluator on hand-worked strings, so the generator checks below rest on it.
    BOOST_CHECK_EQUAL(evaluate(encode("3+4*2-1", kModularSymbols), kModularSymbols), 0);  // 3+8-1 = 10
    BOOST_CHECK_EQUAL(evaluate(encode("2-3*4*4", kModularSymbols), kModularSymbols), 4);  // 2-48 = -46
    BOOST_CHECK_EQUAL(evaluate(encode("4", kModularSymbols), kModularSymbols), 4);
    BOOST_CHECK_EQUAL(evaluate(encode("(3*-2)", kBracketSymbols), kBracketSymbols), 4);     // -6
    BOOST_CHECK_EQUAL(evaluate(encode("((1-4)*(-3))", kBracketSymbols), kBracketSymbols), 4);  // 9
    BOOST_CHECK_EQUAL(evaluate(encode("(2--3)", kBracketSymbols), kBracketSymbols), 0);     // 5
    BOOST_CHECK_EQUAL(evaluate(encode("-2", kEquationSymbols), kEquationSymbols), 3);
}

BOOST_AUTO_TEST_CASE(formal_tasks_invariants_all_lengths) {
    for (FormalTask task : all_formal_tasks())
        for (int64_t length : kLengths) {
            Generator gen(1000 + uint64_t(length));
            BOOST_TEST_CONTEXT(task_name(task) << " at length " << length) {
                for (int i = 0; i < kSamples; ++i) check_example(task, length, generate_example(task, length, gen));
            }
        }
}

BOOST_AUTO_TEST_CASE(formal_tasks_long_lengths) {
    // Big integers (up to 500 bits) and deep bracket recursion at the longest test lengths.
    const FormalTask tasks[] = {FormalTask::BinaryAddition, FormalTask::BinaryMultiplication, FormalTask::ComputeSqrt,
                                FormalTask::ModularArithmeticBrackets, FormalTask::SolveEquation,
                                FormalTask::StackManipulation, FormalTask::ModularArithmetic};
    for (FormalTask task : tasks)
        for (int64_t length : {127, 128, 499, 500}) {
            Generator gen(7);
            BOOST_TEST_CONTEXT(task_name(task) << " at length " << length) {
                for (int i = 0; i < 4; ++i) check_example(task, length, generate_example(task, length, gen));
            }
        }
}

BOOST_AUTO_TEST_CASE(formal_tasks_edge_lengths) {
    Generator gen(3);
    BOOST_CHECK(generate_example(FormalTask::EvenPairs, 1, gen).target == Tokens{0});
    FormalExample stack = generate_example(FormalTask::StackManipulation, 1, gen);
    BOOST_CHECK(stack.target == (Tokens{stack.input[0], 2}));
    FormalExample missing = generate_example(FormalTask::MissingDuplicateString, 1, gen);
    BOOST_CHECK(missing.input == Tokens{1} && missing.target == Tokens{1});
    BOOST_CHECK(generate_example(FormalTask::MissingDuplicateString, 2, gen).input.size() == 2);
    FormalExample add1 = generate_example(FormalTask::BinaryAddition, 1, gen);  // [0, 2^1 - 2] = {0}
    BOOST_CHECK(add1.input == Tokens{0} && add1.target == (Tokens{0, 2}));
    FormalExample mul1 = generate_example(FormalTask::BinaryMultiplication, 1, gen);  // the same n = 0
    BOOST_CHECK(mul1.input == Tokens{0} && mul1.target == Tokens{2});
    BOOST_CHECK(generate_example(FormalTask::BinaryMultiplication, 2, gen).target == (Tokens{0, 2}));
    FormalExample root1 = generate_example(FormalTask::ComputeSqrt, 1, gen);  // n = 1
    BOOST_CHECK(root1.input == Tokens{1} && root1.target == Tokens{1});
    FormalExample mod2 = generate_example(FormalTask::ModularArithmetic, 2, gen);  // length 1: one digit
    BOOST_CHECK(mod2.input.size() == 1 && mod2.target == mod2.input);
    for (int64_t length : {1, 2}) {
        FormalExample eq = generate_example(FormalTask::SolveEquation, length, gen);
        BOOST_CHECK(eq.input == Tokens(size_t(length), 0) && eq.target == Tokens{0});
    }
    // solve_equation at ℓ = 3 is "x = v" (so label v) and at ℓ = 4 "-x = v" (so label -v mod 5).
    for (int i = 0; i < 20; ++i) {
        FormalExample eq3 = generate_example(FormalTask::SolveEquation, 3, gen);
        BOOST_CHECK(eq3.input == (Tokens{9, 10, eq3.target[0]}));
        FormalExample eq4 = generate_example(FormalTask::SolveEquation, 4, gen);
        BOOST_CHECK(eq4.input == (Tokens{6, 9, 10, (5 - eq4.target[0]) % 5}));
        FormalExample br3 = generate_example(FormalTask::ModularArithmeticBrackets, 3, gen);
        BOOST_CHECK(br3.input == (Tokens{8, br3.target[0], 9}));
        FormalExample br2 = generate_example(FormalTask::ModularArithmeticBrackets, 2, gen);
        BOOST_CHECK(br2.input[0] == 6 && br2.target[0] == (5 - br2.input[1]) % 5);
    }
    for (FormalTask task : all_formal_tasks()) TAPEGRAD_CHECK_ERROR(generate_example(task, 0, gen), "length is 0");
}

BOOST_AUTO_TEST_CASE(binary_operands_distribution) {
    // Both binary tasks draw their inputs by the reference's rule (tasks/cs/binary_addition.py and
    // binary_multiplication.py of google-deepmind/neural_networks_chomsky_hierarchy):
    //   ℓ <= 2: one number n ~ U[0, 2^ℓ - 2] as ℓ little-endian bits: ℓ = 1 is always [0], ℓ = 2 is
    //           [0, 0], [1, 0] or [0, 1], a third each, and never [1, 1];
    //   ℓ >= 3: len_n ~ U{1..ℓ-2}, len_m = ℓ-1-len_n, n ~ U[1, 2^len_n - 1], m ~ U[1, 2^len_m - 1],
    //           input "n 2 m" (each zero-padded), so no operand is ever 0.
    // Every input the rule can make must be drawn at its probability (within 5 standard
    // deviations of the count), and no other input may be drawn at all.
    constexpr int kDraws = 30000;
    for (FormalTask task : {FormalTask::BinaryAddition, FormalTask::BinaryMultiplication})
        for (int64_t length : {1, 2, 3, 6}) {
            std::map<Tokens, double> probability;  // every possible input -> its probability
            if (length <= 2) {
                uint64_t values = (uint64_t(1) << length) - 1;  // n = 0 .. 2^ℓ - 2
                for (uint64_t n = 0; n < values; ++n) probability[bits_of(n, length)] = 1.0 / double(values);
            } else {
                for (int64_t n_bits = 1; n_bits <= length - 2; ++n_bits) {
                    int64_t m_bits = length - 1 - n_bits;
                    uint64_t n_values = (uint64_t(1) << n_bits) - 1, m_values = (uint64_t(1) << m_bits) - 1;
                    for (uint64_t n = 1; n <= n_values; ++n)
                        for (uint64_t m = 1; m <= m_values; ++m) {
                            Tokens input = bits_of(n, n_bits), m_digits = bits_of(m, m_bits);
                            input.push_back(2);
                            input.insert(input.end(), m_digits.begin(), m_digits.end());
                            probability[input] = 1.0 / double(length - 2) / double(n_values * m_values);
                        }
                }
            }
            Generator gen(2100 + uint64_t(length));
            std::map<Tokens, int> counts;
            for (int i = 0; i < kDraws; ++i) ++counts[generate_example(task, length, gen).input];
            BOOST_TEST_CONTEXT(task_name(task) << " at length " << length) {
                for (const auto& [input, count] : counts)
                    BOOST_CHECK_MESSAGE(probability.count(input), "input " << show(input) << " was drawn " << count
                                                                           << " times; the reference never draws it");
                for (const auto& [input, p] : probability) {
                    double expected = kDraws * p, tolerance = 5 * std::sqrt(kDraws * p * (1 - p));
                    int count = counts.count(input) ? counts.at(input) : 0;
                    BOOST_CHECK_MESSAGE(std::abs(count - expected) <= tolerance,
                                        "input " << show(input) << " was drawn " << count << " times in " << kDraws
                                                 << " (expected " << expected << " +- " << tolerance << ")");
                }
            }
        }
}

BOOST_AUTO_TEST_CASE(stack_manipulation_distribution) {
    // k ~ U{1..ℓ-1} stack bits, then actions uniform over POP, PUSH 0, PUSH 1.
    Generator gen(11);
    std::map<int64_t, int> stack_sizes, actions;
    for (int i = 0; i < 3000; ++i) {
        Tokens s = generate_example(FormalTask::StackManipulation, 5, gen).input;
        int64_t k = std::find_if(s.begin(), s.end(), [](int64_t t) { return t >= 2; }) - s.begin();
        ++stack_sizes[k];
        for (size_t j = size_t(k); j < s.size(); ++j) ++actions[s[j]];
    }
    BOOST_CHECK_EQUAL(stack_sizes.size(), 4u);
    for (auto [k, count] : stack_sizes) BOOST_CHECK_MESSAGE(k >= 1 && k <= 4 && count > 600, "k " << k << ": " << count);
    for (int64_t a : {2, 3, 4}) BOOST_CHECK_GT(actions[a], 2000);
}

BOOST_AUTO_TEST_CASE(big_uint_arithmetic) {
    Generator gen(5);
    for (int i = 0; i < 200; ++i) {
        uint64_t a = uint64_t(random_int(gen, 0, int64_t(1) << 31)), b = uint64_t(random_int(gen, 0, int64_t(1) << 31));
        BOOST_CHECK((BigUint(a) + BigUint(b)) == BigUint(a + b));
        BOOST_CHECK((BigUint(a) * BigUint(b)) == BigUint(a * b));
        uint64_t n = a * b + a, r = to_u64(isqrt(BigUint(n)).bits_le());
        BOOST_CHECK(r * r <= n && (r + 1) * (r + 1) > n);
    }
    BOOST_CHECK(isqrt(BigUint(0)).is_zero());
    BigUint big = BigUint::random_nonzero(500, gen);
    BOOST_CHECK_LE(big.bit_length(), 500);
    BOOST_CHECK(BigUint::from_bits_le(big.bits_le()) == big);
    BOOST_CHECK(bits_mul(big.bits_le(), big.bits_le()) == (big * big).bits_le());
    TAPEGRAD_CHECK_ERROR(BigUint::from_bits_le({0, 3}), "digit 1 is 3");
}

BOOST_AUTO_TEST_CASE(formal_batch_shapes_masks_and_determinism) {
    for (FormalTask task : all_formal_tasks()) {
        BOOST_TEST_CONTEXT(task_name(task)) {
            Generator gen_a(42), gen_b(42), gen_c(43);
            FormalBatch a = generate_batch(task, 6, 12, gen_a), b = generate_batch(task, 6, 12, gen_b),
                        c = generate_batch(task, 6, 12, gen_c);
            int64_t out_len = output_length(task, 12);
            BOOST_CHECK(a.inputs.shape() == (Shape{6, input_length(task, 12)}));
            BOOST_CHECK(a.targets.shape() == (Shape{6, out_len}));
            BOOST_CHECK(a.mask.shape() == (Shape{6, out_len}));
            BOOST_CHECK(a.inputs.dtype() == DType::Int64 && a.targets.dtype() == DType::Int64);
            BOOST_CHECK(a.mask.dtype() == DType::Float32);
            BOOST_CHECK(a.inputs.to_vector<int64_t>() == b.inputs.to_vector<int64_t>());
            BOOST_CHECK(a.targets.to_vector<int64_t>() == b.targets.to_vector<int64_t>());
            BOOST_CHECK(a.inputs.to_vector<int64_t>() != c.inputs.to_vector<int64_t>());
            std::vector<int64_t> targets = a.targets.to_vector<int64_t>();
            std::vector<float> mask = a.mask.to_vector<float>();
            for (int64_t row = 0; row < 6; ++row) {
                bool after_termination = false;
                for (int64_t j = 0; j < out_len; ++j) {
                    size_t i = size_t(row * out_len + j);
                    float expected = has_termination_mask(task) && after_termination ? 0.0f : 1.0f;
                    BOOST_CHECK_EQUAL(mask[i], expected);
                    after_termination = after_termination || targets[i] == 2;
                }
            }
        }
    }
    // A hand-worked mask: the answer "1 0 1", termination, two zeros of padding.
    BOOST_CHECK(accuracy_mask(FormalTask::BinaryAddition, {1, 0, 1, 2, 0, 0}) ==
                (std::vector<float>{1, 1, 1, 1, 0, 0}));
    BOOST_CHECK(accuracy_mask(FormalTask::ReverseString, {1, 0, 2}) == (std::vector<float>{1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(model_input_one_hot_with_empty_tokens) {
    Tensor inputs = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 1, 0, 2}, {2, 3});
    Tensor x = model_input(inputs, 3, 2);  // V = 3, L_out = 2
    BOOST_REQUIRE(x.shape() == (Shape{2, 5, 4}));
    BOOST_CHECK(x.dtype() == DType::Float32);
    std::vector<float> v = x.to_vector<float>();
    const int64_t expected_symbol[2][5] = {{0, 2, 1, 3, 3}, {1, 0, 2, 3, 3}};
    for (int64_t b = 0; b < 2; ++b)
        for (int64_t t = 0; t < 5; ++t)
            for (int64_t k = 0; k < 4; ++k)
                BOOST_CHECK_EQUAL(v[size_t((b * 5 + t) * 4 + k)], k == expected_symbol[b][t] ? 1.0f : 0.0f);
    BOOST_CHECK(model_input(inputs, 3, 0, DType::Float64).shape() == (Shape{2, 3, 4}));
    TAPEGRAD_CHECK_ERROR(model_input(inputs, 2, 1), "token 2 at [0, 1]", "[0, 2)");
    TAPEGRAD_CHECK_ERROR(model_input(Tensor::zeros({2, 3}), 3, 1), "[2, 3] float32", "int64");
}

BOOST_AUTO_TEST_CASE(masked_accuracy_hand_worked) {
    // B = 1, L_out = 4, O = 3. Predictions (argmax) 2, 0, 1, 1; targets 2, 1, 1, 0.
    Tensor logits = Tensor::from_vector(std::vector<float>{0, 1, 5, 3, 2, 1, 0, 4, 1, 0, 2, 1}, {1, 4, 3});
    Tensor targets = Tensor::from_vector(std::vector<int64_t>{2, 1, 1, 0}, {1, 4});
    BOOST_CHECK_CLOSE(masked_accuracy(logits, targets, Tensor::ones({1, 4})), 0.5, 1e-12);
    Tensor mask = Tensor::from_vector(std::vector<float>{1, 0, 1, 0}, {1, 4});
    BOOST_CHECK_CLOSE(masked_accuracy(logits, targets, mask), 1.0, 1e-12);
    TAPEGRAD_CHECK_ERROR(masked_accuracy(logits, targets, Tensor::zeros({1, 4})), "selects no position");
    TAPEGRAD_CHECK_ERROR(masked_accuracy(logits, Tensor::zeros({1, 3}, DType::Int64), mask), "masked_accuracy");
}

BOOST_AUTO_TEST_CASE(length_protocol) {
    LengthProtocol protocol;
    Generator gen(9);
    std::set<int64_t> seen;
    for (int i = 0; i < 2000; ++i) seen.insert(sample_training_length(protocol, gen));
    BOOST_CHECK_EQUAL(seen.size(), 40u);
    BOOST_CHECK(*seen.begin() == 1 && *seen.rbegin() == 40);
    std::vector<int64_t> lengths = test_lengths(protocol);
    BOOST_CHECK_EQUAL(lengths.size(), 460u);
    BOOST_CHECK(lengths.front() == 41 && lengths.back() == 500);
    BOOST_CHECK_EQUAL(protocol.test_batches_per_length * protocol.test_batch_size, 512);

    // The test sequences of a length do not depend on what was drawn before.
    Generator first = test_generator(protocol, 45), again = test_generator(protocol, 45);
    generate_batch(FormalTask::ParityCheck, 3, 44, gen);
    BOOST_CHECK(generate_batch(FormalTask::ParityCheck, 4, 45, first).inputs.to_vector<int64_t>() ==
                generate_batch(FormalTask::ParityCheck, 4, 45, again).inputs.to_vector<int64_t>());

    // An oracle that reads the answer off the input scores 1 and solves parity; a constant
    // answer scores about one half and does not.
    protocol.min_test_length = 41, protocol.max_test_length = 45;
    protocol.test_batches_per_length = 2, protocol.test_batch_size = 32;
    auto parity_oracle = [](const Tensor& x, int64_t) {  // x [B, T+1, 3]; ones in column 1 count the 1 bits
        int64_t batch = x.size(0), steps = x.size(1);
        std::vector<float> v = x.to_vector<float>(), logits;
        for (int64_t b = 0; b < batch; ++b) {
            int64_t ones = 0;
            for (int64_t t = 0; t < steps; ++t) ones += v[size_t((b * steps + t) * 3 + 1)] == 1.0f;
            logits.push_back(float(ones % 2 == 0));
            logits.push_back(float(ones % 2 == 1));
        }
        return Tensor::from_vector(logits, {batch, 1, 2});
    };
    std::vector<LengthAccuracy> oracle = evaluate_lengths(FormalTask::ParityCheck, protocol, parity_oracle);
    BOOST_REQUIRE_EQUAL(oracle.size(), 5u);
    BOOST_CHECK_EQUAL(oracle[4].length, 45);
    BOOST_CHECK_EQUAL(length_score(oracle), 1.0);
    BOOST_CHECK(is_solved(length_score(oracle), protocol));
    auto constant = [](const Tensor& x, int64_t) {
        return Tensor::from_vector(std::vector<float>(size_t(x.size(0) * 2), 0.0f), {x.size(0), 1, 2});
    };
    double chance = length_score(evaluate_lengths(FormalTask::ParityCheck, protocol, constant));
    BOOST_CHECK(chance > 0.3 && chance < 0.7);
    BOOST_CHECK(!is_solved(chance, protocol));
    BOOST_CHECK(is_solved(0.9, protocol) && !is_solved(0.8999, protocol));
    TAPEGRAD_CHECK_ERROR(length_score({}), "no test lengths");
}

BOOST_AUTO_TEST_CASE(random_bits_do_not_repeat) {
    // Regression: taking draws from Philox's low product words repeated bits every 6 counters,
    // so every batch of length 6 held identical rows. Draw i and draw i+6 must agree about half the time.
    Generator gen(0);
    std::vector<int64_t> bits;
    for (int i = 0; i < 6000; ++i) bits.push_back(random_int(gen, 0, 1));
    for (size_t lag : {1u, 2u, 6u, 12u}) {
        int agree = 0;
        for (size_t i = 0; i + lag < bits.size(); ++i) agree += bits[i] == bits[i + lag];
        BOOST_CHECK_MESSAGE(agree > 2700 && agree < 3300, "lag " << lag << ": " << agree << " of ~6000 agree");
    }
    Generator batch_gen(0);
    std::vector<int64_t> rows = generate_batch(FormalTask::ParityCheck, 2, 6, batch_gen).inputs.to_vector<int64_t>();
    BOOST_CHECK(!std::equal(rows.begin(), rows.begin() + 6, rows.begin() + 6));
}
