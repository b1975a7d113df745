// Writes the op catalogue (tests/op_catalogue.h) to the file given, docs/OPS.md under `make docs`.
// The ops/ headers are read relative to this file's path as compiled (make compiles it as
// docs/make_op_catalogue.cpp): run it from the repository's root, as `make docs` does.
#include <cstdio>
#include <fstream>

#include "tests/op_catalogue.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT.md\n", argv[0]);
        return 2;
    }
    const tapegrad::testing::OpCatalogue catalogue =
        tapegrad::testing::op_catalogue(std::filesystem::path(__FILE__).parent_path().parent_path());
    for (const std::string& line : catalogue.missing) std::fprintf(stderr, "make_op_catalogue: %s\n", line.c_str());
    std::ofstream out(argv[1]);
    out << catalogue.markdown;
    if (!out.flush()) {
        std::fprintf(stderr, "make_op_catalogue: cannot write %s\n", argv[1]);
        return 1;
    }
    std::printf("make_op_catalogue: %zu ops, %zu cases -> %s\n", catalogue.ops, catalogue.cases, argv[1]);
    return catalogue.missing.empty() ? 0 : 1;
}
