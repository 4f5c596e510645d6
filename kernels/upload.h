#pragma once
// Host -> device batch uploads that overlap compute, through two alternating sets of device
// buffers ("slots"): while the step computes on slot s, the next batch is copied into slot
// s ^ 1 on the CUDA copy stream.
//   upload_async(host, dst, slot)  copies host into dst (same dtype and size) once the compute
//                                  stream has passed release_upload_slot(slot).
//   use_upload_slot(device, slot)  compute work issued after this waits for slot's copies.
//   release_upload_slot(device, slot)  marks the point after the last read of slot's buffers.
//   wait_uploads(device)           blocks until every upload so far is done (the host buffers
//                                  may then be reused).
// On the CPU an upload is a plain copy and the rest do nothing.
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void upload_async(const Tensor& host, Tensor& dst, int slot);
inline void use_upload_slot(const Device&, int) {}
inline void release_upload_slot(const Device&, int) {}
inline void wait_uploads(const Device&) {}
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void upload_async(const Tensor& host, Tensor& dst, int slot);
void use_upload_slot(const Device& device, int slot);
void release_upload_slot(const Device& device, int slot);
void wait_uploads(const Device& device);
}  // namespace cuda
#endif

inline void upload_async(const Tensor& host, Tensor& dst, int slot) {
  TE_DISPATCH(dst.device(), upload_async, host, dst, slot);
}
inline void use_upload_slot(const Device& device, int slot) {
  TE_DISPATCH(device, use_upload_slot, device, slot);
}
inline void release_upload_slot(const Device& device, int slot) {
  TE_DISPATCH(device, release_upload_slot, device, slot);
}
inline void wait_uploads(const Device& device) { TE_DISPATCH(device, wait_uploads, device); }

}  // namespace te::ops
