// Timing helpers shared by the benchmarks: the median of repeated runs after one warm-up.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

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

}  // namespace tapegrad::bench
