// The emulation has no cuDNN or cuBLAS: the context's handles stay null, and the operations
// that would use them are the CPU reference here (reference_library_ops.cpp), which never
// reaches for one.
#include "kernels/cuda/library_handles.h"

#include "kernels/cuda/context.h"

namespace te::cuda {
void create_library_handles(Context& ctx) {
  ctx.cudnn = nullptr;
  ctx.cublas = nullptr;
  ctx.cublaslt = nullptr;
}
}  // namespace te::cuda
