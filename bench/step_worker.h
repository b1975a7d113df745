// The worker mode of bench_cells and bench_pr_lstm: `--step NAME --rounds N [--seconds S]` builds
// that bench's model for one train step, runs one warm-up step, times N steps (fewer if they add up
// to S seconds first, at least one) and prints the thread and BLAS set-up it runs with and the
// median:
//
//     # CPU: ...; BLAS: ...; threads: ...
//     ms 61.3
//
// bench_contention runs these workers, each in its own process with its own environment (the
// thread count, TAPEGRAD_NUM_THREADS, is read once at start-up), so that every configuration
// times the very step the bench that owns it builds.
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "cpu/blas_info.h"

namespace tapegrad::bench {

struct StepWorker {
    std::string step;  // empty: not a worker, run the whole benchmark
    int rounds = 5;
    double seconds = 0;  // 0: no time limit
};

// Removes `--step NAME`, `--rounds N` and `--seconds S` from the arguments (so that the rest parse
// as before).
inline StepWorker parse_step_worker(int& argc, char** argv) {
    StepWorker worker;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (has_value && std::strcmp(argv[i], "--step") == 0) worker.step = argv[++i];
        else if (has_value && std::strcmp(argv[i], "--rounds") == 0) worker.rounds = std::max(1, std::atoi(argv[++i]));
        else if (has_value && std::strcmp(argv[i], "--seconds") == 0) worker.seconds = std::atof(argv[++i]);
        else argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = nullptr;
    return worker;
}

// Times the step as above and prints the two lines; returns main's status. The time limit keeps a
// collapsed configuration (several seconds a step on a busy machine) from stalling `make bench`.
inline int run_step_worker(const StepWorker& worker, const std::function<void()>& step) {
    std::printf("# %s\n", blas_summary().c_str());
    step();  // warm-up
    std::vector<double> times;
    double total = 0;
    while (int(times.size()) < worker.rounds && (worker.seconds <= 0 || total < worker.seconds)) {
        const double start = now_seconds();
        step();
        times.push_back(now_seconds() - start);
        total += times.back();
    }
    std::printf("ms %.2f\n", median(times) * 1e3);
    return 0;
}

// For a step name the bench does not have: the error, and main's status.
inline int unknown_step(const StepWorker& worker, const char* known) {
    std::fprintf(stderr, "--step %s: unknown step (this bench has: %s)\n", worker.step.c_str(), known);
    return 2;
}

}  // namespace tapegrad::bench
