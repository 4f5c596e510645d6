#include "engine/train/training_state.h"

#include <nlohmann/json.hpp>

#include "engine/core/error.h"

namespace te {

std::string TrainingState::to_json() const {
  nlohmann::json j;
  j["epoch"] = epoch;
  j["batch"] = batch;
  j["step"] = step;
  j["seed"] = seed;
  j["bad_steps"] = bad_steps;
  j["skipped_steps"] = skipped_steps;
  j["best_metric"] = best_metric;
  j["best_epoch"] = best_epoch;
  j["epoch_loss_sum"] = epoch_loss_sum;
  j["epoch_loss_count"] = epoch_loss_count;
  j["epoch_images"] = epoch_images;
  j["epoch_correct"] = epoch_correct;
  j["epoch_seconds"] = epoch_seconds;
  j["loss_scale"] = loss_scale;
  j["loss_scale_clean_steps"] = loss_scale_clean_steps;
  return j.dump();
}

TrainingState TrainingState::from_json(const std::string& text, const std::string& source) {
  TrainingState s;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    s.epoch = j.at("epoch").get<int64_t>();
    s.batch = j.at("batch").get<int64_t>();
    s.step = j.at("step").get<int64_t>();
    s.seed = j.at("seed").get<uint64_t>();
    s.bad_steps = j.at("bad_steps").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.best_metric = j.at("best_metric").get<double>();
    s.best_epoch = j.at("best_epoch").get<int64_t>();
    s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
    s.epoch_loss_count = j.at("epoch_loss_count").get<int64_t>();
    s.epoch_images = j.at("epoch_images").get<int64_t>();
    s.epoch_correct = j.at("epoch_correct").get<int64_t>();
    s.epoch_seconds = j.at("epoch_seconds").get<double>();
    // Absent in checkpoints written before fp16 existed: no scaling.
    s.loss_scale = j.value("loss_scale", 1.0);
    s.loss_scale_clean_steps = j.value("loss_scale_clean_steps", int64_t{0});
  } catch (const std::exception& e) {
    throw IoError(source + ": malformed training state (" + e.what() + ")");
  }
  // Positions and counters index the loader and the schedule: negative ones are no state.
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"epoch", s.epoch}, {"batch", s.batch},
                                    {"step", s.step}, {"bad_steps", s.bad_steps},
                                    {"skipped_steps", s.skipped_steps},
                                    {"epoch_loss_count", s.epoch_loss_count},
                                    {"epoch_images", s.epoch_images}, {"epoch_correct", s.epoch_correct},
                                    {"loss_scale_clean_steps", s.loss_scale_clean_steps}})
    if (value < 0)
      throw IoError(source + ": malformed training state (" + name + " is " +
                    std::to_string(value) + ", expected >= 0)");
  return s;
}

}  // namespace te
