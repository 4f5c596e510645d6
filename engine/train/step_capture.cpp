#include "engine/train/step_capture.h"

#include <spdlog/spdlog.h>

#ifdef TE_WITH_CUDA
#include "kernels/cuda/captured_work.h"
#include "kernels/cuda/context.h"
#endif

namespace te {

struct StepCapture::Entry {
  int eager_runs = 0;
#ifdef TE_WITH_CUDA
  cuda::CapturedWork work;
  const void* workspace = nullptr;  // the cuDNN/cuBLAS workspace the capture recorded
#endif
};

StepCapture::StepCapture(bool wanted, const Graph& graph, int warmup) : warmup_(warmup) {
  std::string why;
  if (!wanted) why = "train.cuda_graphs is false";
  else if (!graph.device().is_cuda()) why = "the step runs on the CPU";
  for (size_t i = 0; why.empty() && i < graph.num_layers(); ++i)
    if (graph.layer(i).type() == "dropout")
      why = "layer '" + graph.layer_name(i) +
            "' is dropout, whose masks follow the step counter (a value a graph would freeze)";
#ifndef TE_WITH_CUDA
  if (why.empty()) why = "this build has no CUDA backend";
#endif
  active_ = why.empty();
  if (active_)
    spdlog::info("CUDA graphs: each micro-batch's forward and backward is captured after {} "
                 "eager runs and replayed", warmup_);
  else if (graph.device().is_cuda())
    spdlog::info("CUDA graphs: not used ({})", why);
}

StepCapture::~StepCapture() = default;

void StepCapture::run(const StepKey& key, const std::function<void()>& device_work) {
  if (!active_) return device_work();
#ifdef TE_WITH_CUDA
  auto& slot = entries_[key];
  if (!slot) {
    // A new situation: captures for the same slot and micro-batch with other addresses or
    // shapes will not be replayed again (their memory may be gone), so drop them.
    for (auto it = entries_.begin(); it != entries_.end();) {
      const StepKey& k = it->first;
      if (k.slot == key.slot && k.micro == key.micro && it->second && (k < key || key < k))
        it = entries_.erase(it);
      else
        ++it;
    }
    slot = std::make_unique<Entry>();
  }
  Entry& e = *slot;
  if (e.work.captured() && e.workspace != cuda::workspace_address()) {
    // The workspace grew since (another shape wanted more): the recorded address is stale.
    e.work.reset();
    e.eager_runs = 0;
  }
  if (e.work.captured()) {
    e.work.replay();
    ++replays_;
    return;
  }
  if (e.eager_runs < warmup_) {
    ++e.eager_runs;
    return device_work();
  }
  std::string why;
  const auto pool = pools_.find({key.slot, key.micro});
  if (pool != pools_.end()) e.work.use_pool(pool->second);
  if (e.work.capture(device_work, &why)) {
    pools_[{key.slot, key.micro}] = e.work.pool();
    e.workspace = cuda::workspace_address();
    spdlog::debug("CUDA graphs: captured slot {} micro-batch {} ({} rows)", key.slot, key.micro, key.rows);
    e.work.replay();
    ++replays_;
    return;
  }
  spdlog::warn("CUDA graphs: capture failed, running eagerly from now on: {}", why);
  active_ = false;
  entries_.clear();
  device_work();  // nothing ran during the failed capture
#else
  device_work();
#endif
}

}  // namespace te
