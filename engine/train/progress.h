#pragma once
// Training progress. On a terminal: one live line per epoch, redrawn in place, with step, loss,
// images/s and the epoch's ETA. Otherwise (logs, CI, pipes): one plain log line every N steps,
// so log files stay readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace te {

enum class ProgressMode { Bar, Plain };

// "auto" picks Bar when stderr is a terminal; "bar" and "plain" force one.
ProgressMode progress_mode_from(const std::string& setting);

class Progress {
 public:
  Progress(ProgressMode mode, int64_t every_steps);

  void start_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step);
  // After each optimizer step: `step` counts from 1 within the epoch.
  void update(int64_t step, double loss, double lr, double images_per_s);
  // Ends the live line (bar mode) so that following log lines start on their own line.
  void end_epoch();

 private:
  ProgressMode mode_;
  int64_t every_steps_;
  int64_t epoch_ = 0, epochs_ = 0, steps_ = 0, first_step_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace te
