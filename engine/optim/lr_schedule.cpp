#include "engine/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/core/error.h"
#include "engine/core/suggest.h"

namespace te {
namespace {

void require(bool ok, const std::string& key, const std::string& expected, double value) {
  if (!ok)
    throw ConfigError("schedule." + key + " must be " + expected + " (got " +
                      std::to_string(value) + ")");
}

// Cosine interpolation from `start` (pct 0) to `end` (pct 1), as torch's _annealing_cos.
double anneal_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

}  // namespace

std::vector<std::string> schedule_types() { return {"constant", "cosine", "onecycle", "step"}; }

LrSchedule::LrSchedule(const ScheduleConfig& config, double base_lr, int64_t steps_per_epoch,
                       int64_t total_epochs)
    : config_(config), base_lr_(base_lr), steps_per_epoch_(steps_per_epoch) {
  const auto types = schedule_types();
  if (std::find(types.begin(), types.end(), config.type) == types.end()) {
    const std::string guess = closest_match(config.type, types);
    throw ConfigError("schedule.type: unknown schedule '" + config.type + "'" +
                      (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                      " (known types: " + join(types) + ")");
  }
  require(std::isfinite(base_lr) && base_lr >= 0, "base lr", "finite and >= 0", base_lr);
  require(steps_per_epoch > 0, "steps_per_epoch", "> 0", static_cast<double>(steps_per_epoch));
  require(total_epochs > 0, "epochs", "> 0", static_cast<double>(total_epochs));
  require(config.warmup_epochs >= 0 && config.warmup_epochs <= static_cast<double>(total_epochs),
          "warmup_epochs", "in [0, epochs = " + std::to_string(total_epochs) + "]",
          config.warmup_epochs);
  total_steps_ = steps_per_epoch * total_epochs;
  warmup_steps_ = std::llround(config.warmup_epochs * static_cast<double>(steps_per_epoch));

  if (config.type == "step") {
    require(config.gamma > 0, "gamma", "> 0", config.gamma);
    if (config.milestones.empty())
      require(config.step_epochs > 0, "step_epochs", "> 0", config.step_epochs);
    for (size_t i = 0; i < config.milestones.size(); ++i)
      require(config.milestones[i] >= 0 && (i == 0 || config.milestones[i] > config.milestones[i - 1]),
              "milestones[" + std::to_string(i) + "]", ">= 0 and increasing", config.milestones[i]);
  } else if (config.type == "cosine") {
    require(std::isfinite(config.min_lr) && config.min_lr >= 0, "min_lr", ">= 0", config.min_lr);
  } else if (config.type == "onecycle") {
    if (config.warmup_epochs > 0)
      throw ConfigError("schedule.warmup_epochs: onecycle has its own warm-up (schedule.pct_start); "
                        "set warmup_epochs to 0");
    require(config.pct_start > 0 && config.pct_start < 1, "pct_start", "in (0, 1)",
            config.pct_start);
    require(config.div_factor > 0, "div_factor", "> 0", config.div_factor);
    require(config.final_div_factor > 0, "final_div_factor", "> 0", config.final_div_factor);
    // torch's phase ends: pct_start * total - 1 must lie strictly inside [0, total - 1].
    const double rise_end = config.pct_start * static_cast<double>(total_steps_) - 1.0;
    if (!(rise_end > 0 && rise_end < static_cast<double>(total_steps_ - 1)))
      throw ConfigError("schedule.pct_start: " + std::to_string(config.pct_start) + " of " +
                        std::to_string(total_steps_) +
                        " steps leaves no room for both onecycle phases; use more steps or "
                        "another pct_start");
  }
}

double LrSchedule::lr_at(int64_t step) const {
  if (step < 0) throw Error("LrSchedule::lr_at: negative step " + std::to_string(step));
  const double lr = undecorated_lr(step);
  if (step < warmup_steps_)
    return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  return lr;
}

double LrSchedule::undecorated_lr(int64_t step) const {
  const std::string& type = config_.type;
  if (type == "constant") return base_lr_;
  if (type == "step") {
    const double epoch = static_cast<double>(step) / static_cast<double>(steps_per_epoch_);
    double k = 0;
    if (config_.milestones.empty()) {
      // The tiny offset keeps a boundary step (epoch 30.0 computed as 29.999...) on the new rate.
      k = std::floor(epoch / config_.step_epochs + 1e-9);
    } else {
      for (double m : config_.milestones)
        if (step >= std::llround(m * static_cast<double>(steps_per_epoch_))) k += 1;
    }
    return base_lr_ * std::pow(config_.gamma, k);
  }
  if (type == "cosine") {
    if (step < warmup_steps_) return base_lr_;
    const int64_t span = total_steps_ - warmup_steps_;
    if (span <= 0) return base_lr_;
    const double pct =
        std::min(1.0, static_cast<double>(step - warmup_steps_) / static_cast<double>(span));
    return anneal_cos(base_lr_, config_.min_lr, pct);
  }
  return onecycle_lr(step);
}

double LrSchedule::onecycle_lr(int64_t step) const {
  // torch.optim.lr_scheduler.OneCycleLR, three_phase=False, anneal_strategy="cos".
  const double initial = base_lr_ / config_.div_factor;
  const double final_lr = initial / config_.final_div_factor;
  const double rise_end = config_.pct_start * static_cast<double>(total_steps_) - 1.0;
  const double fall_end = static_cast<double>(total_steps_ - 1);
  const double s = static_cast<double>(step);
  if (s <= rise_end) return anneal_cos(initial, base_lr_, s / rise_end);
  // Past the end of the run the rate stays at its final value (torch would raise).
  const double pct = std::min(1.0, (s - rise_end) / (fall_end - rise_end));
  return anneal_cos(base_lr_, final_lr, pct);
}

}  // namespace te
