#include "kernels/normalize.h"

#include "engine/core/parallel.h"

namespace te::ops::cpu {
namespace {

template <typename T>
void normalize_typed(const uint8_t* in, T* out, int64_t n, int64_t h, int64_t w, int64_t c,
                     const std::vector<float>& mean, const std::vector<float>& std,
                     Layout layout) {
  // Per channel: out = in * scale + shift, with scale = 1/(255 std), shift = -mean/std.
  std::vector<T> scale(c), shift(c);
  for (int64_t k = 0; k < c; ++k) {
    const double m = mean.size() == 1 ? mean[0] : mean[k];
    const double s = std.size() == 1 ? std[0] : std[k];
    scale[k] = static_cast<T>(1.0 / (255.0 * s));
    shift[k] = static_cast<T>(-m / s);
  }
  if (layout == Layout::NHWC) {
    // Same element order as the input: out[i] = in[i] * scale[i % c] + shift[i % c].
    parallel_for(n * h * w, [&](int64_t begin, int64_t end) {
      for (int64_t px = begin; px < end; ++px)
        for (int64_t k = 0; k < c; ++k)
          out[px * c + k] = static_cast<T>(in[px * c + k]) * scale[k] + shift[k];
    });
    return;
  }
  const int64_t plane = h * w;
  parallel_for(n * c, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t img = nc / c, k = nc % c;
      const uint8_t* src = in + img * plane * c + k;
      T* dst = out + nc * plane;
      for (int64_t p = 0; p < plane; ++p) dst[p] = static_cast<T>(src[p * c]) * scale[k] + shift[k];
    }
  });
}

}  // namespace

void normalize_images(const Tensor& x, Tensor& out, const std::vector<float>& mean,
                      const std::vector<float>& std, Layout layout) {
  if (x.dtype() != DType::U8 || x.rank() != 4)
    throw ShapeError("normalize_images: expected a uint8 [N, H, W, C] batch, got " +
                     std::string(dtype_name(x.dtype())) + " " + x.shape().str());
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  auto channels_ok = [&](const std::vector<float>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == c;
  };
  if (!channels_ok(mean) || !channels_ok(std))
    throw ShapeError("normalize_images: mean and std need 1 or " + std::to_string(c) +
                     " values, got " + std::to_string(mean.size()) + " and " + std::to_string(std.size()));
  for (float s : std)
    if (!(s > 0)) throw Error("normalize_images: std values must be positive");
  const Shape want{n, c, h, w};
  if (!out.defined()) out = Tensor::empty(want, DType::F32, x.device());
  if (out.shape() != want || (out.dtype() != DType::F32 && out.dtype() != DType::F64))
    throw ShapeError("normalize_images: output must be f32 " + want.str() + ", got " +
                     dtype_name(out.dtype()) + " " + out.shape().str());
  if (out.dtype() == DType::F32)
    normalize_typed(x.data<uint8_t>(), out.data<float>(), n, h, w, c, mean, std, layout);
  else
    normalize_typed(x.data<uint8_t>(), out.data<double>(), n, h, w, c, mean, std, layout);
}

}  // namespace te::ops::cpu
