// Writes the fuzzers' seed inputs, valid files made by the project's own writers, so that the
// fuzzers start from inputs that get past the first checks:
//   make_corpus CORPUS_DIR DICT_DIR
//   CORPUS_DIR/fuzz_checkpoint/     a checkpoint of harness.h's model (save_checkpoint), and a
//                                   file of F32, F64 and I64 tensors (save_tensors)
//   CORPUS_DIR/fuzz_imdb/           a gzipped TSV of three reviews, and the TSV for the harness to gzip
//   CORPUS_DIR/fuzz_train_options/  a few command lines, one word per line
//   DICT_DIR/fuzz_train_options.dict  tapegrad-train's option names (from its --help), for libFuzzer

#include <cstdio>
#include <regex>
#include <set>
#include <sstream>

#include "fuzz/harness.h"
#include "models/checkpoint.h"
#include "train/train_options.h"

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
    fuzz::write_bytes(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

void checkpoint_seeds(const fs::path& dir) {
    fuzz::CheckpointModel model;
    save_checkpoint((dir / "checkpoint.safetensors").string(), model.layer, &model.optimizer, {{"step", "3"}});
    save_tensors((dir / "dtypes.safetensors").string(),
                 {{"f32", Tensor::from_vector(std::vector<float>{1.5f, -2}, {2, 1})},
                  {"f64", Tensor::from_vector(std::vector<double>{0.25}, {1})},
                  {"i64", Tensor::from_vector(std::vector<int64_t>{7, 8, 9}, {3})}});
}

void imdb_seeds(const fs::path& dir) {
    const std::string tsv = "label\ttext\n"
                            "1\tGreat film!<br /><br />Don't miss it.\n"
                            "0\tDull (and long): 2/10.\n"
                            "1\tCaf\xc3\xa9 scenes\xc2\x85the best part\n";
    write_text(dir / "reviews.tsv.gz", '\0' + fuzz::gzip(tsv));  // the first byte picks the layer (fuzz_imdb.cpp)
    write_text(dir / "reviews.tsv", '\1' + tsv);
}

void option_seeds(const fs::path& dir, const fs::path& dict_dir) {
    const char* const command_lines[] = {
        "--task\nparity_check\n--model\nlstm\n--hidden\n8\n--steps\n10\n--seed\n3",
        "--task\nimdb\n--model\nbilstm\n--truncate\nlast\n--max-length\n64\n--validation-fraction\n0.2",
        "--protocol\nfull\n--model\ntransformer\n--heads\n2\n--lr=3e-4\n--no-eval\n--progress\nlines",
        "--protocol\nreduced\n--device\ncuda:1\n--ql-hgr\nfalse\n--min-train-length\n2\n--max-train-length\n9",
        "--help",
    };
    int n = 0;
    for (const char* line : command_lines) write_text(dir / ("command_line_" + std::to_string(n++)), line);

    std::ostringstream help;
    train::parse_options({"tapegrad-train", "--help"}, help);
    const std::string text = help.str();
    std::set<std::string> names;
    const std::regex option("--[a-z][a-z-]*");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), option); it != std::sregex_iterator(); ++it)
        names.insert(it->str());
    std::ostringstream dict;
    for (const std::string& name : names) dict << '"' << name << "\"\n";
    write_text(dict_dir / "fuzz_train_options.dict", dict.str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR DICT_DIR\n", argv[0]);
        return 2;
    }
    const fs::path corpus = argv[1], dict_dir = argv[2];
    for (const char* harness : {"fuzz_checkpoint", "fuzz_imdb", "fuzz_train_options"})
        fs::create_directories(corpus / harness);
    fs::create_directories(dict_dir);
    checkpoint_seeds(corpus / "fuzz_checkpoint");
    imdb_seeds(corpus / "fuzz_imdb");
    option_seeds(corpus / "fuzz_train_options", dict_dir);
    std::printf("make_corpus: wrote the seeds under %s and %s/fuzz_train_options.dict\n", argv[1], argv[2]);
    return 0;
}
