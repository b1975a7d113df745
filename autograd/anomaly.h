/// \file
/// Anomaly mode: find the op that first produced a NaN or an Inf.
///
///   { DetectAnomaly guard; Tensor loss = model(x); backward(loss); }
///
/// While a DetectAnomaly lives (in this thread), every op's output is checked as it is produced
/// and every gradient a backward step accumulates is checked after the step. The first NaN or Inf
/// throws tapegrad::Error naming the op, its scope, its tape index and which output or input
/// gradient went bad:
///   anomaly: forward of op 'log' (tape #1, scope 'net/loss') produced 2 NaN, 0 Inf in its output [2, 3] float64
/// Off by default: checking reads every value back to the host (see bench/bench_inspect for the cost).
#pragma once
#include <cstdint>
#include <string>

#include "tape.h"

namespace tapegrad {

/// Turns anomaly mode on (or, with enabled = false, off) in this thread until the guard dies, then restores what was before.
class DetectAnomaly {
public:
    /// Sets anomaly mode to `enabled` in this thread.
    explicit DetectAnomaly(bool enabled = true);
    ~DetectAnomaly();
    DetectAnomaly(const DetectAnomaly&) = delete;
    DetectAnomaly& operator=(const DetectAnomaly&) = delete;

private:
    bool previous_;
};
/// Whether anomaly mode is on in this thread.
bool anomaly_detection_enabled();

/// Called by record() for every op: throws if `output` holds a NaN or Inf. tape_index is -1 when
/// the op is not recorded (no input requires grad, or NoGrad).
void check_forward_anomaly(const char* op, const std::string& scope, int64_t tape_index, const Tensor& output);
/// Called by each backward step for each input gradient it touched.
void check_backward_anomaly(const Record& record, int64_t tape_index, size_t input, const Tensor& grad);

}  // namespace tapegrad
