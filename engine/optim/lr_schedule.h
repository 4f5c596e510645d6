#pragma once
// Learning rate as a pure function of the optimizer step, so a resumed run gets exactly the
// rates of an uninterrupted one without saving scheduler state.
#include <cstdint>
#include <string>
#include <vector>

namespace te {

struct ScheduleConfig {
  std::string type = "cosine";  // constant | step | cosine | onecycle
  double warmup_epochs = 0;     // linear warm-up (constant, step, cosine)
  std::vector<double> milestones;  // step: epochs where lr *= gamma (else every step_epochs)
  double gamma = 0.1;
  double step_epochs = 30;
  double min_lr = 0;            // cosine: the rate at the end of the run
  double pct_start = 0.3;       // onecycle: fraction of the run spent rising
  double div_factor = 25;       // onecycle: start at base / div_factor
  double final_div_factor = 1e4;  // onecycle: end at base / (div_factor * final_div_factor)
};

// The schedule types LrSchedule knows, sorted.
std::vector<std::string> schedule_types();

class LrSchedule {
 public:
  // Throws ConfigError (naming the `schedule.<key>`) for an unknown type or a value out of range.
  LrSchedule(const ScheduleConfig& config, double base_lr, int64_t steps_per_epoch,
             int64_t total_epochs);

  // The rate for optimizer step `step` (0 = the first step of the run).
  //  warm-up (steps w = round(warmup_epochs * steps_per_epoch)): lr(s) * (s + 1) / w for s < w
  //  constant: base
  //  step:     base * gamma^k, k = milestones (in epochs) passed, or floor(epoch / step_epochs)
  //  cosine:   min + (base - min) * (1 + cos(pi * (s - w) / (total - w))) / 2
  //  onecycle: torch OneCycleLR (cos anneal, two phases): base/div -> base over
  //            pct_start * total - 1 steps, then -> base/(div*final_div) at total - 1.
  double lr_at(int64_t step) const;

  int64_t total_steps() const { return total_steps_; }
  int64_t warmup_steps() const { return warmup_steps_; }

 private:
  double undecorated_lr(int64_t step) const;  // the schedule without warm-up
  double onecycle_lr(int64_t step) const;

  ScheduleConfig config_;
  double base_lr_;
  int64_t steps_per_epoch_;
  int64_t total_steps_;
  int64_t warmup_steps_;
};

}  // namespace te
