#include "tests/op_catalogue.h"

#include <algorithm>
#include <fstream>
#include <regex>

#include "tests/op_table.h"

namespace tapegrad::testing {

namespace {

// A public function of an ops/ header: its declaration (up to the body or the `;`) and its `///`
// comment (the lines above it and the `///<` after it), as the header writes them.
struct Declaration {
    std::string header, name, signature;
    std::vector<std::string> comment;  // the `///` lines above, without their indentation
    std::string trailing;              // the `///<` comment after it, or ""
};

std::string trim(const std::string& s) {
    const size_t begin = s.find_first_not_of(" \t");
    const size_t end = s.find_last_not_of(" \t");
    return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

// The ops/ headers tapegrad.h includes, in its order, and what they declare, in theirs.
std::vector<Declaration> read_declarations(const std::filesystem::path& root) {
    const std::regex include(R"re(^#include "(ops/\w+\.h)")re");
    const std::regex declaration(R"(^(?:inline\s+)?(?:Tensor|std::vector<Tensor>)\s+(\w+|operator\S+)\s*\()");
    std::vector<Declaration> found;
    std::ifstream umbrella(root / "tapegrad.h");
    std::string line;
    std::smatch match;
    while (std::getline(umbrella, line)) {
        if (!std::regex_search(line, match, include)) continue;
        const std::string header = match[1];
        std::ifstream file(root / header);
        std::vector<std::string> comment;  // the `///` lines just above
        while (std::getline(file, line)) {
            const std::string text = trim(line);
            if (text.rfind("/// \\file", 0) == 0) {
                // The file's description: skip to its end.
                while (std::getline(file, line) && trim(line).rfind("///", 0) == 0) {}
                comment.clear();
                continue;
            }
            if (text.rfind("///", 0) == 0) {
                comment.push_back(text);
                continue;
            }
            if (std::regex_search(line, match, declaration)) {
                const size_t after = line.find("///<");
                found.push_back({header, match[1], trim(line.substr(0, line.find_first_of("{;"))), comment,
                                 after == std::string::npos ? "" : trim(line.substr(after))});
            }
            comment.clear();
        }
    }
    return found;
}

// The functions whose cases go under `op`: the function of that name, and those the table files
// under another name (the record's: to_dtype is to(x, DType); scalar_operators the operators
// with a scalar; bce_with_logits also its per-element terms).
bool runs_op(const Declaration& d, const std::string& op) {
    if (d.name == op) return true;
    if (op == "to_dtype") return d.name == "to" && d.signature.find("DType") != std::string::npos;
    if (op == "scalar_operators") return d.name.rfind("operator", 0) == 0 && d.signature.find("double") != std::string::npos;
    if (op == "bce_with_logits") return d.name == "bce_with_logits_elementwise";
    return false;
}

std::string shapes_text(const std::vector<Shape>& shapes) {
    std::string text;
    for (const Shape& s : shapes) text += (text.empty() ? "" : ", ") + to_string(s);
    return text;
}

struct CaseRun {
    std::vector<std::pair<std::string, std::string>> records;  // (op, formula) of each record, in order
    std::string output;                                        // the output's shape
};

CaseRun run_case(const OpCase& c) {
    Inputs inputs = make_inputs(c, DType::Float64);
    Tape tape;
    TapeGuard guard(tape);
    Tensor y = c.apply(inputs);
    CaseRun run{{}, to_string(y.shape())};
    for (const Record& r : tape.records()) run.records.push_back({r.op, r.formula ? r.formula : ""});
    return run;
}

}  // namespace

OpCatalogue op_catalogue(const std::filesystem::path& root) {
    const std::vector<Declaration> declarations = read_declarations(root);
    std::vector<std::string> ops;  // in table order, each once
    for (const OpCase& c : op_table())
        if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) ops.push_back(c.op);

    OpCatalogue catalogue;
    std::string body, header_now;
    for (const std::string& op : ops) {
        std::vector<const Declaration*> functions;
        for (const Declaration& d : declarations)
            if (runs_op(d, op)) functions.push_back(&d);
        const std::string header = functions.empty() ? "(no ops/ header declares it)" : functions.front()->header;
        if (header != header_now) body += "\n## " + header + "\n";
        header_now = header;

        // The declarations with their comments, as the header has them.
        std::string text = "\n### " + op + "\n\n```cpp\n";
        bool commented = false;
        for (const Declaration* d : functions) {
            for (const std::string& line : d->comment) text += line + "\n";
            text += d->signature + ";" + (d->trailing.empty() ? "" : "  " + d->trailing) + "\n";
            commented = commented || !d->comment.empty() || !d->trailing.empty();
        }
        text += "```\n\n";
        if (!commented) catalogue.missing.push_back(op + ": no function of ops/*.h with a /// comment runs it");

        // The formulas its records carry, each once, in the order the cases first write them.
        std::vector<std::pair<std::string, std::string>> formulas;
        std::string cases;
        bool composed = false;
        for (const OpCase& c : op_table()) {
            if (c.op != op) continue;
            ++catalogue.cases;
            composed = c.composed;
            const CaseRun run = run_case(c);
            for (const auto& record : run.records) {
                if (!composed && record.first != op) continue;  // an input's own ops (the case's squares)
                if (std::find(formulas.begin(), formulas.end(), record) == formulas.end()) formulas.push_back(record);
            }
            std::vector<Shape> shapes;
            for (const InputSpec& spec : c.inputs) shapes.push_back(spec.shape);
            cases += "  - " + c.variant + ": " + shapes_text(shapes) + " → " + run.output;
            if (composed) {
                std::string names;
                for (const auto& record : run.records) names += (names.empty() ? "" : ", ") + record.first;
                cases += " (records " + names + ")";
            }
            cases += "\n";
        }
        text += composed ? "- Gradient: it records other ops; the formulas of the records its cases write:\n"
                         : "- Gradient, the formula of its record:\n";
        for (const auto& [record_op, formula] : formulas) {
            if (formula.empty()) catalogue.missing.push_back(op + ": its record '" + record_op + "' has no formula");
            text += "  - " + (composed ? "`" + record_op + "`: " : std::string()) + "`" + formula + "`\n";
        }
        if (formulas.empty()) catalogue.missing.push_back(op + ": its cases record nothing, so no formula");
        // Every case of the table runs on both devices: test_ops on the CPU, test_cuda on the GPU.
        text += "- Devices: CPU, CUDA\n- Cases (inputs → output):\n" + cases;
        body += text;
        ++catalogue.ops;
    }
    catalogue.markdown =
        "# Op catalogue\n\n"
        "Every public op, generated from the op table (tests/op_table.cpp) by `make docs`; do not edit by hand "
        "(`tests/test_ops` fails when this file is not what the table gives). For each op: the functions of "
        "ops/*.h that run it, with their comments as the header has them (the forward math and the shapes); the "
        "formula its tape record carries, what backward adds to each input's gradient (the formula the "
        "step-through prints), or for an op made of other ops the formulas of their records; its devices; and "
        "the table's cases, with the shapes of their inputs and of their output. Every case runs on the CPU "
        "(`tests/test_ops`: a float64 gradient check, and again with each extent set to 0) and on CUDA "
        "(`tests/test_cuda`: forward and backward against the CPU; reported skipped without a GPU). The "
        "elementwise ops' values and derivatives are their rules in core/elementwise_math.h.\n\n" +
        std::to_string(catalogue.ops) + " ops, " + std::to_string(catalogue.cases) + " cases.\n" + body;
    return catalogue;
}

}  // namespace tapegrad::testing
