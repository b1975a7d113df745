// tapegrad-train: trains one model on IMDB or on one of the 15 formal-language tasks and
// evaluates it (train/trainer.h has the loop; train/train_options.h the command line).
//   build/examples/tapegrad-train --help
//   build/examples/tapegrad-train --task parity_check --model lstm --protocol reduced --out runs/parity-lstm
//   build/examples/tapegrad-train --task imdb --model qllstm --max-length 256 --epochs 1 --out runs/imdb-ql
//   build/examples/tapegrad-train --predict reviews.txt --out runs/imdb-ql     (one review a line)
#include <cstdio>
#include <iostream>
#include <string>

#include "core/error.h"
#include "cpu/blas_info.h"
#include "train/predict.h"
#include "train/train_options.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
    using namespace tapegrad::train;
    tapegrad::use_fast_blas_kernels(argc, argv);  // may restart the program once with faster BLAS kernels
    try {
        const auto config = parse_options(std::vector<std::string>(argv, argv + argc), std::cout);
        if (!config) return 0;  // --help
        if (!config->predict.empty()) {
            run_prediction(*config, std::cout);
            return 0;
        }
        std::cout << tapegrad::blas_summary() << '\n';
        install_stop_handler();
        const TrainSummary summary = run_training(*config, std::cout);
        return summary.stopped_early ? 130 : 0;
    } catch (const std::exception& e) {
        // The errors of train/ already begin with the program's name; the others get it.
        const std::string message = e.what();
        const char* name = message.rfind("tapegrad-train: ", 0) == 0 ? "" : "tapegrad-train: ";
        std::fprintf(stderr, "%s%s\n", name, message.c_str());
        return 2;
    }
}
