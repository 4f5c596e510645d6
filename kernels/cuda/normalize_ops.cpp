// Tensor-level input normalisation (kernels/normalize.h): uint8 NHWC -> f32, bf16 or f16 on the
// GPU (computed in float, rounded once to the output's dtype), written in NCHW order (rows.cu)
// or, for Layout::NHWC, in the input's own order (normalize_nhwc.cu).
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;

void normalize_images(const Tensor& x, Tensor& out, const std::vector<float>& mean,
                      const std::vector<float>& std, Layout layout) {
  const char* op = "normalize_images";
  if (x.dtype() != DType::U8 || x.rank() != 4)
    throw ShapeError(std::string(op) + ": expected a uint8 [N, H, W, C] batch, got " +
                     dtype_name(x.dtype()) + " " + x.shape().str());
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  auto channels_ok = [&](const std::vector<float>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == c;
  };
  if (!channels_ok(mean) || !channels_ok(std))
    throw ShapeError(std::string(op) + ": mean and std need 1 or " + std::to_string(c) +
                     " values, got " + std::to_string(mean.size()) + " and " +
                     std::to_string(std.size()));
  if (c > launch::kMaxImageChannels)
    throw ShapeError(std::string(op) + ": " + std::to_string(c) + " channels; the CUDA kernel takes at most " +
                     std::to_string(launch::kMaxImageChannels));
  for (float s : std)
    if (!(s > 0)) throw Error(std::string(op) + ": std values must be positive");
  const Shape want{n, c, h, w};
  if (!out.defined()) out = Tensor::empty(want, DType::F32, x.device());
  require_shape(out, want, op, "output");
  const StorageDType st(op, out, "output");
  // Same per-channel affine map as the CPU backend: scale = 1/(255 std), shift = -mean/std.
  launch::ChannelAffine a{};
  for (int64_t k = 0; k < c; ++k) {
    const double m = mean.size() == 1 ? mean[0] : mean[k];
    const double s = std.size() == 1 ? std[0] : std[k];
    a.scale[k] = static_cast<float>(1.0 / (255.0 * s));
    a.shift[k] = static_cast<float>(-m / s);
  }
  const uint8_t* in = typed_ptr<uint8_t>(x, DType::U8, op, "input");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::normalize_u8_nhwc_to_nhwc(in, st.ptr<T>(out, "output"), n * h * w, c, a,
                                        compute_stream());
    else
      launch::normalize_u8_nhwc(in, st.ptr<T>(out, "output"), n, h * w, c, a, compute_stream());
  });
}

}  // namespace te::ops::cuda
