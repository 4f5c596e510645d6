#pragma once
// Evaluation of a model on a data set: mean cross-entropy (no label smoothing), top-1 accuracy
// and accuracy per class. Used for validation during training and by `trainer eval`.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/loader.h"
#include "engine/graph/graph.h"

namespace te {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  int64_t images = 0;
  int64_t correct = 0;
  std::vector<std::string> class_names;
  std::vector<int64_t> class_total, class_correct;
  double seconds = 0;
  double images_per_s = 0;
};

// Runs the whole epoch 0 of `loader` (which should not shuffle or drop the last batch) through
// `graph` in inference mode. Images are normalised with mean/std on the graph's device.
EvalResult evaluate(Graph& graph, DataLoader& loader, const std::vector<float>& mean,
                    const std::vector<float>& std);

// A batch ready for the graph: float NCHW input and int32 labels on the graph's device. The
// tensors are kept and reused from batch to batch (no allocation per step once sized).
struct DeviceBatch {
  Tensor images_u8;  // the uint8 batch on the device (unused on the CPU)
  Tensor input;      // normalised float NCHW
  Tensor labels;     // int32 [N]
};

// Copies the loader's uint8 NHWC batch to `device` (when it is not the CPU) and normalises it
// into `input_dtype` and `layout` (the graph's compute dtype and layout).
void prepare_batch(const Batch& batch, Device device, const std::vector<float>& mean,
                   const std::vector<float>& std, DeviceBatch& out,
                   DType input_dtype = DType::F32, Layout layout = Layout::NCHW);

// Index of the largest value of each row of logits [N, K] (the first on ties), on the host.
std::vector<int64_t> argmax_rows(const Tensor& logits);

}  // namespace te
