#include "engine/train/training_state.h"

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/io/json_numbers.h"

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
  j["world_size"] = world_size;
  return j.dump();
}

TrainingState TrainingState::from_json(const std::string& text, const std::string& source) {
  TrainingState s;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    s.epoch = json_int64(j.at("epoch"));
    s.batch = json_int64(j.at("batch"));
    s.step = json_int64(j.at("step"));
    s.seed = json_uint64(j.at("seed"));
    s.bad_steps = json_int64(j.at("bad_steps"));
    s.skipped_steps = json_int64(j.at("skipped_steps"));
    s.best_metric = j.at("best_metric").get<double>();
    s.best_epoch = json_int64(j.at("best_epoch"));
    s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
    s.epoch_loss_count = json_int64(j.at("epoch_loss_count"));
    s.epoch_images = json_int64(j.at("epoch_images"));
    s.epoch_correct = json_int64(j.at("epoch_correct"));
    s.epoch_seconds = j.at("epoch_seconds").get<double>();
    // Absent in checkpoints written before fp16 existed: no scaling.
    s.loss_scale = j.value("loss_scale", 1.0);
    s.loss_scale_clean_steps =
        j.contains("loss_scale_clean_steps") ? json_int64(j.at("loss_scale_clean_steps")) : 0;
    s.world_size = j.value("world_size", int64_t{1});  // absent: written by one process
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
  if (s.world_size < 1)
    throw IoError(source + ": malformed training state (world_size is " +
                  std::to_string(s.world_size) + ", expected >= 1)");
  return s;
}

}  // namespace te
