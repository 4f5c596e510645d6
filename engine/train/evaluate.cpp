#include "engine/train/evaluate.h"

#include <chrono>

#include "engine/layers/softmax_cross_entropy.h"
#include "kernels/cast.h"
#include "kernels/normalize.h"

namespace te {

void prepare_batch(const Batch& batch, Device device, const std::vector<float>& mean,
                   const std::vector<float>& std, DeviceBatch& out, DType input_dtype,
                   Layout layout) {
  const Shape& s = batch.images.shape();  // [N, H, W, C]
  ensure_shape(out.input, Shape{s[0], s[3], s[1], s[2]}, input_dtype, device);
  if (device.is_cpu()) {
    ops::normalize_images(batch.images, out.input, mean, std, layout);
    out.labels = batch.labels;
    return;
  }
  ensure_shape(out.images_u8, s, DType::U8, device);
  out.images_u8.copy_from(batch.images);
  ensure_shape(out.labels, batch.labels.shape(), DType::I32, device);
  out.labels.copy_from(batch.labels);
  ops::normalize_images(out.images_u8, out.input, mean, std, layout);
}

std::vector<int64_t> argmax_rows(const Tensor& logits) {
  const std::vector<float> v = logits.to_vector();  // to the host
  const int64_t n = logits.dim(0), k = logits.dim(1);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = v.data() + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    out[static_cast<size_t>(i)] = best;
  }
  return out;
}

EvalResult evaluate(Graph& graph, DataLoader& loader, const std::vector<float>& mean,
                    const std::vector<float>& std) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult r;
  r.class_names = loader.dataset().class_names();
  const size_t k = r.class_names.size();
  r.class_total.assign(k, 0);
  r.class_correct.assign(k, 0);
  SoftmaxCrossEntropy loss_fn(0.0);
  RunContext ctx;
  ctx.training = false;
  double loss_sum = 0;
  DeviceBatch db;
  Batch batch;
  Tensor logits32;
  loader.start_epoch(0, 0);
  while (loader.next(batch)) {
    prepare_batch(batch, graph.device(), mean, std, db, graph.compute_dtype(), graph.layout());
    const Tensor* out = &graph.forward(db.input, ctx);
    if (out->dtype() != DType::F32) {  // mixed precision: the loss and arg-max read f32
      ensure_shape(logits32, out->shape(), DType::F32, out->device());
      ops::cast_scale(*out, logits32, 1.0);
      out = &logits32;
    }
    const Tensor& logits = *out;
    const int64_t n = batch.labels.dim(0);
    loss_sum += loss_fn.forward(logits, db.labels) * static_cast<double>(n);
    const std::vector<int64_t> predicted = argmax_rows(logits);
    const int32_t* truth = batch.labels.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) {
      const size_t c = static_cast<size_t>(truth[i]);
      if (c < k) {
        r.class_total[c]++;
        if (predicted[static_cast<size_t>(i)] == truth[i]) r.class_correct[c]++;
      }
      if (predicted[static_cast<size_t>(i)] == truth[i]) r.correct++;
    }
    r.images += n;
  }
  if (r.images > 0) {
    r.loss = loss_sum / static_cast<double>(r.images);
    r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.images);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.images_per_s = r.seconds > 0 ? r.images / r.seconds : 0;
  return r;
}

}  // namespace te
