// The op catalogue, docs/OPS.md: every op of the op table (tests/op_table.cpp) with the functions
// that run it and what their comments in ops/*.h say (the forward math and shapes), the formula
// its tape records carry (the gradient each adds, the one the step-through prints), its cases
// with their input and output shapes, and its devices. Written from the table itself: each case
// runs once on the CPU, in float64, and its records and output are read off the tape.
// docs/make_op_catalogue.cpp writes the file (`make docs`); test_ops fails when the committed
// file differs from what the table gives, or when an op has no comment or no formula.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace tapegrad::testing {

struct OpCatalogue {
    std::string markdown;              // the text of docs/OPS.md
    std::vector<std::string> missing;  // "relu: no formula", one line per op without a formula or comment
    size_t ops = 0, cases = 0;
};

// `root` is the repository's root: the ops/ headers are read from there.
OpCatalogue op_catalogue(const std::filesystem::path& root);

}  // namespace tapegrad::testing
