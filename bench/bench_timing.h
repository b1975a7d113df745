// Timing helpers shared by the benchmarks: the median of repeated runs after one warm-up, and a
// per-op breakdown of a backward pass.
#pragma once
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "autograd/tape.h"

namespace tapegrad::bench {

// The clock the benchmarks read: wall time, or with --cpu-time the process's CPU time. On a shared,
// loaded machine CPU time counts only the time this process ran; it is the meaningful one with a
// single thread (TAPEGRAD_NUM_THREADS=1), since with more it also counts threads spinning for work.
inline bool& cpu_time_clock() {
    static bool on = false;
    return on;
}
inline double now_seconds() {
    if (!cpu_time_clock())
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
// Prints a warning when other processes load the machine: the 1-minute load average against the
// cores. Wall-clock figures are then slower than on an idle machine; bench_contention measures that
// on purpose, the other benches only report it.
inline void warn_if_loaded() {
    double load = 0;
    FILE* f = std::fopen("/proc/loadavg", "r");
    if (!f) return;
    bool read = std::fscanf(f, "%lf", &load) == 1;
    std::fclose(f);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (read && load > 0.5 * double(cores))
        std::printf("WARNING: load average %.1f on %ld cores: other processes are running; wall-clock figures "
                    "are slower than idle ones (TAPEGRAD_NUM_THREADS=1 with --cpu-time counts only this process's work)\n", load, cores);
}

// Adds --cpu-time to a bench's command line: it switches the clock.
inline void add_clock_flag(CLI::App& app) {
    app.add_flag_callback("--cpu-time", [] { cpu_time_clock() = true; },
                          "time by process CPU time instead of wall time (meaningful with TAPEGRAD_NUM_THREADS=1)");
}

// The middle value (the upper one of the two middle values for an even count).
inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

// Median wall time in seconds of `repeats` runs of fn, after one warm-up run. `sync` runs after
// each call (e.g. cuda::synchronize, so GPU work is inside the measurement).
inline double median_seconds(int repeats, const std::function<void()>& fn, const std::function<void()>& sync = [] {}) {
    fn();
    sync();
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        double start = now_seconds();
        fn();
        sync();
        times.push_back(now_seconds() - start);
    }
    return median(times);
}

// A step timed against its floor, interleaved: after one warm-up of each, `rounds` rounds each time
// one floor run and then one step run. On a shared host whose speed drifts by tens of percent within
// seconds, timing all floor runs first and all step runs later compared different machines; paired
// rounds see the same one. ratio = the median of the per-round step / floor ratios.
struct PairedTimes {
    double step_s, floor_s, ratio;
};
inline PairedTimes paired_median_seconds(int rounds, const std::function<void()>& step,
                                         const std::function<void()>& floor) {
    floor();
    step();
    std::vector<double> steps, floors, ratios;
    for (int i = 0; i < rounds; ++i) {
        double start = now_seconds();
        floor();
        double middle = now_seconds();
        step();
        double end = now_seconds();
        floors.push_back(middle - start);
        steps.push_back(end - middle);
        ratios.push_back(steps.back() / floors.back());
    }
    return {median(steps), median(floors), median(ratios)};
}

inline const char* verdict(bool ok) { return ok ? "PASS" : "MISS"; }

// One backward pass from `loss`, a record at a time, timing each record's backward function:
// "op ms, ..." summed by op name, the `top` largest first (where the time above a floor goes).
inline std::string backward_breakdown(const Tensor& loss, size_t top = 8) {
    std::map<std::string, double> seconds;
    BackwardPass pass(loss, {});
    while (pass.next() >= 0) {
        const std::string op = pass.record(pass.next()).op;
        double start = now_seconds();
        pass.step();
        seconds[op] += now_seconds() - start;
    }
    pass.finish();
    std::vector<std::pair<double, std::string>> sorted;
    double total = 0;
    for (auto& [op, s] : seconds) {
        sorted.emplace_back(s, op);
        total += s;
    }
    std::sort(sorted.rbegin(), sorted.rend());
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "backward %.1f ms:", total * 1e3);
    std::string text = buffer;
    for (size_t i = 0; i < sorted.size() && i < top; ++i) {
        std::snprintf(buffer, sizeof buffer, " %s %.1f", sorted[i].second.c_str(), sorted[i].first * 1e3);
        text += buffer;
    }
    return text;
}

}  // namespace tapegrad::bench
