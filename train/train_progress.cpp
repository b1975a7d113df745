#include "train_progress.h"

#include <chrono>
#include <cmath>
#include <ostream>

#include <fmt/format.h>

namespace tapegrad::train {

std::string format_duration(double seconds) {
    const int64_t s = int64_t(std::llround(std::max(0.0, seconds)));
    if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
    if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

Progress::Progress(std::ostream& out, bool bar, int64_t total_steps, int64_t every)
    : out_(out), bar_(bar), total_(total_steps), every_(every < 1 ? 1 : every) {}

void Progress::update(int64_t step, double loss, double accuracy, double tokens_per_second,
                      double seconds_per_step) {
    const std::string fields =
        fmt::format("{:>{}}/{}  loss {:.4f}  acc {:5.1f}%  {:>9.0f} tok/s  ETA {}", step,
                    fmt::formatted_size("{}", total_), total_, loss, 100 * accuracy, tokens_per_second,
                    format_duration(seconds_per_step * double(total_ - step)));
    if (!bar_) {
        if (step % every_ == 0 || step == total_) out_ << "step " << fields << '\n' << std::flush;
        return;
    }
    // Redraw at most ~10 times a second, and always at the last step.
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (step != total_ && now - last_draw_ < 0.1) return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    const int filled = total_ > 0 ? int(kWidth * step / total_) : kWidth;
    out_ << '\r' << '[' << std::string(size_t(filled), '#') << std::string(size_t(kWidth - filled), '.') << "]  "
         << fields << "\x1b[K" << std::flush;
}

void Progress::finish() {
    if (bar_) out_ << '\n' << std::flush;
}

}  // namespace tapegrad::train
