// One table of every public op (ops/*.h), shared by the test suites: tests/test_ops.cpp runs a
// float64 gradient check of every case on the CPU, tests/test_cuda.cpp compares every case on
// the GPU against the CPU, forward and backward. To add an op, add its cases to
// tests/op_table.cpp; both suites pick them up.
//
// A case is one call of one op: how to build its inputs (small, non-square, asymmetric shapes,
// broadcasting variants, values inside the op's domain) and a function applying the op to them.
// Functions of ops/*.h without cases of their own name are listed, with the reason, by
// functions_elsewhere(); test_ops checks that every function ops/ declares is one or the other.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tapegrad.h"

namespace tapegrad::testing {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

// One input of a case: uniform values in [low, high), or the given values when there are any.
struct InputSpec {
    Shape shape;
    double low = -1.0, high = 1.0;
    std::vector<double> values = {};
};

struct OpCase {
    // The op, named as its tape record is ("sigmoid", "to_dtype"); an op that records only other
    // ops (chunk is split, transpose is permute) goes by its function's name and sets `composed`.
    std::string op;
    std::string variant;  // what this case exercises: "broadcast [2, 1, 4] with [3, 1]"
    std::vector<InputSpec> inputs;
    OpFn apply;
    bool composed = false;
    GradcheckOptions gradcheck = {};  // the default, except where a case says why not
};

// Every case, grouped by the header that declares the op, in the header's order.
const std::vector<OpCase>& op_table();

// The names of the elementwise entries, in their order (that of UnaryRules and BinaryRules).
const std::vector<std::string>& unary_op_names();
const std::vector<std::string>& binary_op_names();

// A function declared in ops/*.h that no case goes by, and why (covered under another name, or
// not an op the table can run).
struct FunctionElsewhere {
    std::string function, reason;
};
const std::vector<FunctionElsewhere>& functions_elsewhere();

// The cases of `c` with one extent set to 0: for each input and each of its axes, that axis, and
// the same axis (counted from the right, as broadcasting aligns them) of every other input of the
// same extent. Inputs with given values (indices) keep their shape.
std::vector<OpCase> zero_extent_variants(const OpCase& c);

// The case's inputs, drawn from a generator seeded per case: leaves requiring grad, of `dtype`,
// on `device` (the same values on every device).
Inputs make_inputs(const OpCase& c, DType dtype, Device device = Device::cpu());

// An Int64 index tensor on `like`'s device.
Tensor indices(const Tensor& like, const std::vector<int64_t>& values, const Shape& shape);

// Adds a suite `suite_name` to the test module with one test case per op of the table,
// "<op>_<what>" (sigmoid_gradient), that runs `check` on each case of that op, the case named in
// every failure. A precondition, if given, applies to the whole suite (a GPU, say: without one
// its cases are reported skipped, with the reason). Called at namespace scope of a suite's file,
// so that it runs before main, as BOOST_AUTO_TEST_CASE's registration does.
boost::unit_test::test_suite* register_op_cases(const std::string& suite_name, const std::string& what,
                                                const std::function<void(const OpCase&)>& check,
                                                const boost::unit_test::test_unit::precondition_t& precondition = {});

}  // namespace tapegrad::testing
