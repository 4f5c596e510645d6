#include "engine/train/predict.h"

#include <algorithm>
#include <numeric>

#include "engine/data/dataset.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "kernels/normalize.h"

namespace te {

TransformConfig eval_transform(const ModelInfo& info) {
  TransformConfig t;
  t.channels = info.input_chw[0];
  t.image_size = info.input_chw[1];
  t.train = false;
  t.resize_ratio = info.resize_ratio;
  t.mean = info.mean;
  t.std = info.std;
  return t;
}

std::vector<Prediction> predict_files(LoadedModel& model, const std::vector<std::string>& paths,
                                      int64_t top_k, int64_t batch_size) {
  const Transform transform(eval_transform(model.info));
  const int64_t c = model.info.input_chw[0], s = model.info.input_chw[1];
  const int64_t classes = static_cast<int64_t>(model.info.class_names.size());
  top_k = std::clamp<int64_t>(top_k, 1, std::max<int64_t>(classes, 1));
  std::vector<Prediction> out(paths.size());
  RunContext ctx;
  ctx.training = false;
  for (size_t begin = 0; begin < paths.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(paths.size(), begin + static_cast<size_t>(batch_size));
    std::vector<size_t> ok;
    std::vector<uint8_t> pixels;
    for (size_t i = begin; i < end; ++i) {
      out[i].image = paths[i];
      const size_t at = pixels.size();  // the image is decoded straight into the batch
      try {
        SampleData sample;
        sample.kind = SampleData::Kind::Encoded;
        sample.storage = read_file_bytes(paths[i]);
        sample.own();
        pixels.resize(at + static_cast<size_t>(transform.output_bytes()));
        CounterRng rng(0, 0, 0);  // evaluation transforms draw nothing
        transform.apply(sample, rng, pixels.data() + at);
        ok.push_back(i);
      } catch (const Error& e) {
        pixels.resize(at);
        out[i].error = e.what();
      }
    }
    if (ok.empty()) continue;
    const int64_t n = static_cast<int64_t>(ok.size());
    Tensor batch = Tensor::empty(Shape{n, s, s, c}, DType::U8);
    std::copy(pixels.begin(), pixels.end(), batch.data<uint8_t>());
    Tensor input = Tensor::empty(Shape{n, c, s, s}, DType::F32, model.graph->device());
    ops::normalize_images(model.graph->device().is_cpu() ? batch : batch.to(model.graph->device()),
                          input, model.info.mean, model.info.std);
    Tensor probs;
    softmax_rows(model.graph->forward(input, ctx), probs);
    const std::vector<float> p = probs.to_vector();
    for (int64_t r = 0; r < n; ++r) {
      std::vector<int64_t> order(static_cast<size_t>(classes));
      std::iota(order.begin(), order.end(), 0);
      const float* row = p.data() + r * classes;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
      Prediction& pr = out[ok[static_cast<size_t>(r)]];
      for (int64_t k = 0; k < top_k; ++k) pr.top.emplace_back(order[k], row[order[k]]);
    }
  }
  return out;
}

}  // namespace te
