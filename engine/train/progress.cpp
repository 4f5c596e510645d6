#include "engine/train/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace te {

ProgressMode progress_mode_from(const std::string& setting) {
  if (setting == "bar") return ProgressMode::Bar;
  if (setting == "plain") return ProgressMode::Plain;
  return isatty(STDERR_FILENO) ? ProgressMode::Bar : ProgressMode::Plain;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

Progress::Progress(ProgressMode mode, int64_t every_steps)
    : mode_(mode), every_steps_(every_steps < 1 ? 1 : every_steps) {}

void Progress::start_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = steps;
  first_step_ = first_step;
  drawn_ = false;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t step, double loss, double lr, double images_per_s) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = step - first_step_;
  const double eta = done > 0 ? elapsed / done * (steps_ - step) : -1;
  if (mode_ == ProgressMode::Plain) {
    if (step % every_steps_ != 0 && step != steps_) return;
    spdlog::info("epoch {}/{} step {}/{} loss {:.4f} lr {:.5g} {:.0f} img/s eta {}", epoch_ + 1,
                 epochs_, step, steps_, loss, lr, images_per_s, format_duration(eta));
    return;
  }
  // Redraw at most ~10 times a second: terminals are slow.
  if (step != steps_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 24;
  const int filled = steps_ > 0 ? static_cast<int>(kWidth * step / steps_) : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f %.0f img/s eta %s",
               static_cast<long long>(epoch_ + 1), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(steps_), loss, images_per_s,
               format_duration(eta).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::end_epoch() {
  if (mode_ == ProgressMode::Bar && drawn_) {
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  drawn_ = false;
}

}  // namespace te
