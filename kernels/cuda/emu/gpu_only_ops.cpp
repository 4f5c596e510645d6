// What the SIMT emulation does not run: the operations that go through cuDNN (convolution) or
// cuBLAS (linear). They need the real libraries on a real GPU; here they refuse clearly
// instead of computing something else. Our own kernels that these operations use around the
// library calls (bias epilogues, filter transposes) are emulated and tested on their own.
#include <string>

#include "engine/core/error.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"

namespace te::ops::cuda {
namespace {
[[noreturn]] void gpu_only(const char* op, const char* library) {
  throw DeviceError(std::string(op) + " needs " + library +
                    " on a real GPU: the SIMT emulation runs only our own CUDA kernels");
}
}  // namespace

void conv2d_forward(const Tensor&, const Tensor&, const Tensor*, Tensor&, const Conv2dParams&,
                    Conv2dWorkspace&, Layout) {
  gpu_only("conv2d_forward", "cuDNN");
}
void conv2d_backward_input(const Tensor&, const Tensor&, Tensor&, bool, const Conv2dParams&,
                           Conv2dWorkspace&, Layout) {
  gpu_only("conv2d_backward_input", "cuDNN");
}
void conv2d_backward_params(const Tensor&, const Tensor&, Tensor&, Tensor*, const Conv2dParams&,
                            Conv2dWorkspace&, Layout) {
  gpu_only("conv2d_backward_params", "cuDNN");
}
void linear_forward(const Tensor&, const Tensor&, const Tensor*, Tensor&) {
  gpu_only("linear_forward", "cuBLAS");
}
void linear_backward_input(const Tensor&, const Tensor&, Tensor&, bool) {
  gpu_only("linear_backward_input", "cuBLAS");
}
void linear_backward_params(const Tensor&, const Tensor&, Tensor&, Tensor*) {
  gpu_only("linear_backward_params", "cuBLAS");
}

}  // namespace te::ops::cuda
