#include "predict.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "../autograd/tape.h"
#include "../core/error.h"
#include "../models/checkpoint.h"
#include "../ops/nn.h"
#include "train_options.h"

namespace tapegrad::train {

namespace fs = std::filesystem;

void run_prediction(const TrainConfig& config, std::ostream& out) {
    const std::string run = config.out_dir;
    const std::string checkpoint = (fs::path(run) / "checkpoint.safetensors").string();
    const std::string vocabulary = (fs::path(run) / "vocab.txt").string();
    if (!fs::exists(checkpoint))
        fail("tapegrad-train", "--predict: no trained run in '{}' (no checkpoint.safetensors there; give the run's folder "
             "with --out)", run);

    // The model's options, as the run recorded them under their names ("--hidden" -> "64"),
    // read back through the command line that made them.
    std::vector<std::string> args = {"tapegrad-train"};
    for (const auto& [key, value] : load_metadata(checkpoint))
        if (key.rfind("--", 0) == 0) args.insert(args.end(), {key, value});
    std::ostringstream ignored;
    const TrainConfig trained = *parse_options(args, ignored);
    if (trained.task != "imdb")
        fail("tapegrad-train", "--predict classifies text with an IMDB run, but the run in '{}' was trained on '{}'",
             run, trained.task);
    if (!fs::exists(vocabulary))
        fail("tapegrad-train", "--predict: the run in '{}' has no vocab.txt (a run made before "
             "tapegrad-train saved vocabularies: train it again)", run);
    const data::Vocabulary vocab = data::Vocabulary::load(vocabulary);

    std::ifstream documents(config.predict, std::ios::binary);
    if (!documents) fail("tapegrad-train", "--predict: cannot read '{}'", config.predict);

    Generator unused(0);  // the initial values are replaced by the checkpoint's
    std::unique_ptr<TaskModel> model = TaskModel::for_text(trained.model, vocab.size(), 2, unused);
    load_checkpoint(checkpoint, *model);
    model->to(config.device);
    model->eval();
    NoGrad no_grad;

    out << "line\tlabel\tprobability\n";
    int64_t line_number = 0;
    for (std::string line; std::getline(documents, line);) {
        ++line_number;
        const std::vector<std::string> tokens = data::tokenize(line);
        if (tokens.empty()) continue;
        const std::vector<int64_t> ids = data::encode_document(tokens, vocab, trained.imdb);
        const Tensor x = Tensor::from_vector(ids, {1, int64_t(ids.size())}, config.device);  // [1, T]
        const std::vector<double> p = softmax(model->classify(x, {int64_t(ids.size())}), 1).to_double_vector();
        const bool positive = p[1] > p[0];  // labels: 0 negative, 1 positive
        out << fmt::format("{}\t{}\t{:.4f}\n", line_number, positive ? "positive" : "negative", positive ? p[1] : p[0]);
    }
    out << std::flush;
}

}  // namespace tapegrad::train
