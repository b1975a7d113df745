/// \file
/// Progress reporting for a training run: on a terminal, one bar redrawn in place
///   [#########...........]  1200/5000  loss 0.4123  acc 81.2%  12,345 tok/s  ETA 3m12s
/// and otherwise (a log file, a pipe) the same fields as a plain line every `every` steps.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

namespace tapegrad::train {

/// "3m12s", "1h02m", "45s".
std::string format_duration(double seconds);

/// The progress display of one training run (see the file's description).
class Progress {
public:
    /// bar: redraw a bar in place (a terminal); otherwise print a line every `every` steps.
    Progress(std::ostream& out, bool bar, int64_t total_steps, int64_t every);
    /// After step `step` (1-based): the running loss/accuracy, the throughput and the seconds spent
    /// per step so far (for the ETA).
    void update(int64_t step, double loss, double accuracy, double tokens_per_second, double seconds_per_step);
    /// Ends the bar's line.
    void finish();

private:
    std::ostream& out_;
    bool bar_;
    int64_t total_, every_;
    double last_draw_ = -1;
};

}  // namespace tapegrad::train
