#include "kernels/cuda/library_handles.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cudnn_version.h"

namespace te::cuda {

void create_library_handles(Context& ctx) {
  // Another major version than the headers': refuse before any call into it.
  const CudnnVersionVerdict version = check_cudnn_version(cudnnGetVersion(), CUDNN_VERSION);
  if (!version.usable) throw DeviceError(version.message);
  cudnnHandle_t dnn = nullptr;
  TE_CUDNN_CHECK(cudnnCreate(&dnn));
  TE_CUDNN_CHECK(cudnnSetStream(dnn, ctx.compute));
  ctx.cudnn = dnn;
  cublasHandle_t blas = nullptr;
  TE_CUBLAS_CHECK(cublasCreate(&blas));
  TE_CUBLAS_CHECK(cublasSetStream(blas, ctx.compute));
  ctx.cublas = blas;
  cublasLtHandle_t lt = nullptr;
  TE_CUBLAS_CHECK(cublasLtCreate(&lt));
  ctx.cublaslt = lt;
}

}  // namespace te::cuda
