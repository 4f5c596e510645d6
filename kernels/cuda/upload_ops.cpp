// Batch uploads on the copy stream (kernels/upload.h) over the context's two upload slots.
#include "kernels/upload.h"

#include "kernels/cuda/context.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {

void upload_async(const Tensor& host, Tensor& dst, int slot) {
  const char* op = "upload_async";
  if (!host.defined() || !host.device().is_cpu())
    throw Error(std::string(op) + ": the source must be a host tensor");
  te::cuda::require_on_gpu(dst, op, "dst");
  if (host.dtype() != dst.dtype() || host.numel() != dst.numel())
    throw ShapeError(std::string(op) + ": host " + host.shape().str() + " " + dtype_name(host.dtype()) +
                     " does not fit dst " + dst.shape().str() + " " + dtype_name(dst.dtype()));
  te::cuda::copy_to_slot_async(dst.raw(), host.raw(), host.nbytes(), slot);
}

void use_upload_slot(const Device& device, int slot) {
  te::cuda::require_current(device, "use_upload_slot");
  te::cuda::use_upload_slot(slot);
}

void release_upload_slot(const Device& device, int slot) {
  te::cuda::require_current(device, "release_upload_slot");
  te::cuda::release_upload_slot(slot);
}

void wait_uploads(const Device& device) {
  te::cuda::require_current(device, "wait_uploads");
  te::cuda::wait_uploads();
}

}  // namespace te::ops::cuda
