/// \file
/// Progress reporting for a training run: on a terminal, one bar redrawn in place
///   [#########...........]  1200/5000  loss 0.4123  acc 81.2%  12,345 tok/s  ETA 3m12s
/// sized to the terminal's width at every redraw (a line wider than the terminal would wrap, and
/// each redraw would then leave a stale line behind), and otherwise (a log file, a pipe) the same
/// fields as a plain line every `every` steps, with no carriage returns.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

namespace tapegrad::train {

/// "3m12s", "1h02m", "45s".
std::string format_duration(double seconds);

/// The width of the terminal on file descriptor fd: its window size (TIOCGWINSZ), else the
/// COLUMNS environment variable, else 80.
int terminal_columns(int fd);

/// One redraw of the bar: "[####....]  " and then `fields`, at most columns - 1 wide (the last
/// column stays empty: a character there makes some terminals wrap at once). The bar shrinks to
/// fit, down to 10 cells; narrower than that, the bar is left out and the fields are cut.
std::string bar_line(int64_t step, int64_t total, const std::string& fields, int columns);

/// The progress display of one training run (see the file's description).
class Progress {
public:
    /// bar_fd >= 0: redraw a bar in place, as wide as the terminal on bar_fd allows; otherwise
    /// print a line every `every` steps (and at the last).
    Progress(std::ostream& out, int bar_fd, int64_t total_steps, int64_t every);
    /// After step `step` (1-based): the running loss/accuracy, the throughput and the seconds spent
    /// per step so far (for the ETA).
    void update(int64_t step, double loss, double accuracy, double tokens_per_second, double seconds_per_step);
    /// Ends the bar's line.
    void finish();

private:
    std::ostream& out_;
    int bar_fd_;
    int64_t total_, every_;
    double last_draw_ = -1;
};

}  // namespace tapegrad::train
