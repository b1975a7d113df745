// Timing helpers shared by the benchmarks: the median of repeated runs after one warm-up, and a
// per-op breakdown of a backward pass.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/tape.h"

namespace tapegrad::bench {

// Median wall time in seconds of `repeats` runs of fn, after one warm-up run. `sync` runs after
// each call (e.g. cuda::synchronize, so GPU work is inside the measurement).
inline double median_seconds(int repeats, const std::function<void()>& fn, const std::function<void()>& sync = [] {}) {
    fn();
    sync();
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        auto start = std::chrono::steady_clock::now();
        fn();
        sync();
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

inline const char* verdict(bool ok) { return ok ? "PASS" : "MISS"; }

// One backward pass from `loss`, a record at a time, timing each record's backward function:
// "op ms, ..." summed by op name, the `top` largest first (where the time above a floor goes).
inline std::string backward_breakdown(const Tensor& loss, size_t top = 8) {
    std::map<std::string, double> seconds;
    BackwardPass pass(loss, {});
    while (pass.next() >= 0) {
        const std::string op = pass.record(pass.next()).op;
        auto start = std::chrono::steady_clock::now();
        pass.step();
        seconds[op] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
