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
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "cpu/blas_info.h"
#include "train/option_checks.h"

namespace tapegrad::bench {

struct StepWorker {
    std::string step;  // empty: not a worker, run the whole benchmark
    int rounds = 5;
    double seconds = 0;  // 0: no time limit
};

// Adds `--step NAME` (one of `steps`), `--rounds N` and `--seconds S` to a bench's command line.
inline void add_step_worker_options(CLI::App& app, StepWorker& worker, const std::vector<std::string>& steps) {
    app.add_option("--step", worker.step, "worker mode: time only this train step (for bench_contention)")
        ->check(CLI::IsMember(steps));
    app.add_option("--rounds", worker.rounds, "worker mode: timed steps after the warm-up")->check(at_least(1))
        ->capture_default_str();
    app.add_option("--seconds", worker.seconds, "worker mode: stop timing once the steps add up to this (0: no limit)")
        ->check(real_in(0, kUnbounded))->capture_default_str();
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

}  // namespace tapegrad::bench
