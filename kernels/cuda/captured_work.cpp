#include "kernels/cuda/captured_work.h"

#include <cuda_runtime.h>

#include <exception>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"

namespace te::cuda {

CapturedWork::CapturedWork() = default;

CapturedWork::~CapturedWork() { reset(); }

void CapturedWork::reset() {
  // Also called from the destructor: errors are ignored there (the driver may be gone).
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = graph_ = nullptr;
}

bool CapturedWork::capture(const std::function<void()>& work, std::string* why) {
  reset();
  Context& ctx = context();
  auto* stream = static_cast<cudaStream_t>(ctx.compute);
  if (pool_ < 0) pool_ = ctx.device_allocator->new_pool();
  // Work queued before the capture must not be mistaken for part of it.
  TE_CUDA_CHECK(cudaStreamSynchronize(stream));
  // A capture the runtime refuses to begin is a failed capture like any other (the caller runs
  // the work eagerly), not an error of the run.
  const cudaError_t begin = cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  if (begin != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(begin);
    return false;
  }
  ctx.device_allocator->use_pool(pool_);
  std::string failure;
  try {
    work();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  ctx.device_allocator->use_pool(-1);
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  if (failure.empty() && end != cudaSuccess)
    failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(end);
  if (failure.empty() && graph == nullptr) failure = "the capture recorded no graph";
  cudaGraphExec_t exec = nullptr;
  if (failure.empty()) {
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    if (inst != cudaSuccess) failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(inst);
  }
  if (!failure.empty()) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // clear the sticky-free error state a failed capture leaves
    if (why) *why = failure;
    return false;
  }
  graph_ = graph;
  exec_ = exec;
  return true;
}

void CapturedWork::replay() {
  if (!exec_) throw Error("CapturedWork::replay: nothing captured");
  TE_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_),
                                static_cast<cudaStream_t>(context().compute)));
}

}  // namespace te::cuda
