#include "engine/train/step_capture.h"

#include <spdlog/spdlog.h>

#ifdef TE_WITH_CUDA
#include "kernels/cuda/captured_work.h"
#include "kernels/cuda/context.h"
#endif

namespace te {
namespace {

#ifdef TE_WITH_CUDA
class CudaCapturedStep : public CapturedStep {
 public:
  bool capture(const std::function<void()>& work, std::string* why) override {
    return work_.capture(work, why);
  }
  void replay() override { work_.replay(); }
  void use_pool(int pool) override { work_.use_pool(pool); }
  int pool() const override { return work_.pool(); }

 private:
  cuda::CapturedWork work_;
};

CaptureBackend cuda_backend() {
  CaptureBackend b;
  b.make = [] { return std::make_unique<CudaCapturedStep>(); };
  b.workspace = [] { return cuda::workspace_address(); };
  return b;
}
#endif

}  // namespace

StepCapture::StepCapture(bool wanted, const Graph& graph, const std::string& ruled_out, int warmup)
    : warmup_(warmup) {
  std::string why;
  if (!wanted) why = "train.cuda_graphs is false";
  else if (!graph.device().is_cuda()) why = "the step runs on the CPU";
  else if (!ruled_out.empty()) why = ruled_out;
  for (size_t i = 0; why.empty() && i < graph.num_layers(); ++i)
    if (graph.layer(i).type() == "dropout")
      why = "layer '" + graph.layer_name(i) +
            "' is dropout, whose masks follow the step counter (a value a graph would freeze)";
#ifdef TE_WITH_CUDA
  backend_ = cuda_backend();
#else
  if (why.empty()) why = "this build has no CUDA backend";
#endif
  active_ = why.empty();
  if (active_)
    spdlog::info("CUDA graphs: each micro-batch's forward and backward is captured after {} "
                 "eager runs and replayed", warmup_);
  else if (graph.device().is_cuda())
    spdlog::info("CUDA graphs: not used ({})", why);
}

StepCapture::StepCapture(CaptureBackend backend, int warmup)
    : active_(true), warmup_(warmup), backend_(std::move(backend)) {}

StepCapture::~StepCapture() = default;

void StepCapture::run(const StepKey& key, const std::function<void()>& device_work) {
  if (!active_) return device_work();
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    // A new situation: captures for the same slot and micro-batch with other addresses or
    // shapes will not be replayed again (their memory may be gone), so drop them.
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->first.slot == key.slot && it->first.micro == key.micro) it = entries_.erase(it);
      else ++it;
    }
    found = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = found->second;
  if (e.work && e.workspace != backend_.workspace()) {
    // The workspace grew since (another shape wanted more): the recorded address is stale.
    e.work.reset();
    e.eager_runs = 0;
  }
  if (e.work) {
    e.work->replay();
    ++replays_;
    return;
  }
  if (e.eager_runs < warmup_) {
    ++e.eager_runs;
    return device_work();
  }
  auto work = backend_.make();
  const auto pool = pools_.find({key.slot, key.micro});
  if (pool != pools_.end()) work->use_pool(pool->second);
  std::string why;
  const void* workspace_before = backend_.workspace();
  if (work->capture(device_work, &why)) {
    pools_[{key.slot, key.micro}] = work->pool();
    if (backend_.workspace() != workspace_before) {
      // The workspace grew while capturing: nodes recorded before the growth point into the
      // old block, which went back to the allocator's cache. Never replay that graph; run the
      // step eagerly (nothing ran during the capture) and capture again next time, when the
      // workspace is already large enough.
      spdlog::debug("CUDA graphs: workspace moved during the capture of slot {} micro-batch {}; "
                    "dropped, capturing again next step", key.slot, key.micro);
      ++dropped_captures_;
      device_work();
      return;
    }
    e.workspace = backend_.workspace();
    e.work = std::move(work);
    ++captures_;
    spdlog::debug("CUDA graphs: captured slot {} micro-batch {} ({} rows)", key.slot, key.micro, key.rows);
    e.work->replay();
    ++replays_;
    return;
  }
  spdlog::warn("CUDA graphs: capture failed, running eagerly from now on: {}", why);
  active_ = false;
  entries_.clear();
  device_work();  // nothing ran during the failed capture
}

}  // namespace te
