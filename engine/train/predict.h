#pragma once
// Classifying image files with a trained model (`trainer predict`).
#include <string>
#include <vector>

#include "engine/data/transform.h"
#include "engine/train/model_info.h"

namespace te {

struct Prediction {
  std::string image;
  std::string error;  // non-empty when the file could not be read or decoded
  // The top classes, most probable first: (class index, probability).
  std::vector<std::pair<int64_t, double>> top;
};

// The evaluation preprocessing the model was trained with (resize, centre crop, channels).
TransformConfig eval_transform(const ModelInfo& info);

// Classifies each file (batched); unreadable or undecodable files get `error` set instead of
// stopping the others.
std::vector<Prediction> predict_files(LoadedModel& model, const std::vector<std::string>& paths,
                                      int64_t top_k = 1, int64_t batch_size = 32);

}  // namespace te
