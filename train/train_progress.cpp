#include "train_progress.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ostream>

#include <fmt/format.h>

namespace tapegrad::train {

std::string format_duration(double seconds) {
    const int64_t s = int64_t(std::llround(std::max(0.0, seconds)));
    if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
    if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

int terminal_columns(int fd) {
    winsize size = {};
    if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        const int n = std::atoi(columns);
        if (n > 0) return n;
    }
    return 80;
}

std::string bar_line(int64_t step, int64_t total, const std::string& fields, int columns) {
    constexpr int kMinCells = 10, kMaxCells = 24;
    const int room = std::max(0, columns - 1);                 // the last column stays empty
    const int cells = std::min(kMaxCells, room - int(fields.size()) - 4);  // "[" cells "]  " fields
    if (cells < kMinCells) return fields.substr(0, size_t(room));
    const int filled = total > 0 ? int(int64_t(cells) * std::min(step, total) / total) : cells;
    return '[' + std::string(size_t(filled), '#') + std::string(size_t(cells - filled), '.') + "]  " + fields;
}

Progress::Progress(std::ostream& out, int bar_fd, int64_t total_steps, int64_t every)
    : out_(out), bar_fd_(bar_fd), total_(total_steps), every_(every < 1 ? 1 : every) {}

void Progress::update(int64_t step, double loss, double accuracy, double tokens_per_second,
                      double seconds_per_step) {
    const std::string fields =
        fmt::format("{:>{}}/{}  loss {:.4f}  acc {:5.1f}%  {:>9.0f} tok/s  ETA {}", step,
                    fmt::formatted_size("{}", total_), total_, loss, 100 * accuracy, tokens_per_second,
                    format_duration(seconds_per_step * double(total_ - step)));
    if (bar_fd_ < 0) {
        if (step % every_ == 0 || step == total_) out_ << "step " << fields << '\n' << std::flush;
        return;
    }
    // Redraw at most ~10 times a second, and always at the last step.
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (step != total_ && now - last_draw_ < 0.1) return;
    last_draw_ = now;
    // The width is read at every redraw, so that a resized terminal gets a bar that fits.
    out_ << '\r' << bar_line(step, total_, fields, terminal_columns(bar_fd_)) << "\x1b[K" << std::flush;
}

void Progress::finish() {
    if (bar_fd_ >= 0) out_ << '\n' << std::flush;
}

}  // namespace tapegrad::train
