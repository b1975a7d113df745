// Fuzzes tapegrad-train's command line (train/train_options.h): the input is its words, one per
// line, after the program name. A tapegrad::Error is the right answer to a bad command line; any
// other exception (CLI11's own included), a crash or a sanitizer report is a finding.
#include <sstream>

#include "core/error.h"
#include "train/train_options.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args = {"tapegrad-train"};
    std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
    for (std::string word; std::getline(lines, word);) args.push_back(word);
    std::ostringstream help;
    try {
        train::parse_options(args, help);
    } catch (const Error&) {
    }
    return 0;
}
