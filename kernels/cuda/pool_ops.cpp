// Tensor-level pooling (kernels/pool.h) with our kernels: pool.cu (NCHW), pool_nhwc.cu (NHWC).
// Why not cuDNN: its classic pooling API is deprecated in cuDNN 9 and the graph API's
// resample operation does not cover this engine's max-pool with saved argmax.
// Dtypes (storage_args.h): x, y, dy, dx are f32, bf16 or f16, all the same; argmax is i32.
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
launch::PoolGeometry geometry(const char* op, const Shape& x, const Shape& y, const Pool2dParams& p,
                              bool max) {
  if (x.rank() != 4 || y.rank() != 4 || x[0] != y[0] || x[1] != y[1])
    throw ShapeError(std::string(op) + ": expected input [N, C, H, W] and output [N, C, OH, OW], got " +
                     x.str() + " and " + y.str());
  launch::PoolGeometry g;
  g.planes = x[0] * x[1];
  g.h = x[2];
  g.w = x[3];
  g.oh = y[2];
  g.ow = y[3];
  g.kh = p.kernel_h;
  g.kw = p.kernel_w;
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  g.dh = max ? p.dilation_h : 1;
  g.dw = max ? p.dilation_w : 1;
  g.count_include_pad = p.count_include_pad;
  const int64_t oh = pool_output_size(g.h, g.kh, g.sh, g.ph, g.dh, p.ceil_mode);
  const int64_t ow = pool_output_size(g.w, g.kw, g.sw, g.pw, g.dw, p.ceil_mode);
  if (oh != g.oh || ow != g.ow || g.sh < 1 || g.sw < 1)
    throw ShapeError(std::string(op) + ": output " + y.str() +
                     " does not match the pooling of the input (expected " + std::to_string(oh) +
                     "x" + std::to_string(ow) + " positions)");
  return g;
}

void require_global(const char* op, const Shape& x, const Shape& y) {
  if (x.rank() != 4 || y != Shape{x[0], x[1]})
    throw ShapeError(std::string(op) + ": expected input [N, C, H, W] and output [N, C], got " +
                     x.str() + " and " + y.str());
}
}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p,
                        Layout layout) {
  const char* op = "max_pool2d";
  const launch::PoolGeometry g = geometry(op, x.shape(), y.shape(), p, true);
  require_shape(argmax, y.shape(), op, "argmax");
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  int32_t* am = typed_ptr<int32_t>(argmax, DType::I32, op, "argmax");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::max_pool_forward_nhwc(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), am, g, x.dim(1),
                                    compute_stream());
    else
      launch::max_pool_forward(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), am, g, compute_stream());
  });
}

void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx, bool accumulate,
                         Layout layout) {
  const char* op = "max_pool2d backward";
  if (dx.rank() != 4 || dy.rank() != 4 || dx.dim(0) != dy.dim(0) || dx.dim(1) != dy.dim(1))
    throw ShapeError(std::string(op) + ": input gradient " + dx.shape().str() +
                     " and output gradient " + dy.shape().str() + " do not match");
  require_shape(argmax, dy.shape(), op, "saved argmax");
  const StorageDType st(op, dy, "dy");
  st.check(dx, "dx");
  const int32_t* am = typed_ptr<int32_t>(argmax, DType::I32, op, "argmax");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC) {
      launch::max_pool_backward_nhwc(st.ptr<T>(dy, "dy"), am, st.ptr<T>(dx, "dx"), dx.dim(0),
                                     dx.dim(1), dx.dim(2) * dx.dim(3), dy.dim(2) * dy.dim(3),
                                     accumulate, deterministic(), compute_stream());
      return;
    }
    launch::max_pool_backward(st.ptr<T>(dy, "dy"), am, st.ptr<T>(dx, "dx"),
                              dx.dim(0) * dx.dim(1), dx.dim(2) * dx.dim(3), dy.dim(2) * dy.dim(3),
                              accumulate, deterministic(), compute_stream());
  });
}

void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p, Layout layout) {
  const char* op = "avg_pool2d";
  const launch::PoolGeometry g = geometry(op, x.shape(), y.shape(), p, false);
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::avg_pool_forward_nhwc(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), g, x.dim(1),
                                    compute_stream());
    else
      launch::avg_pool_forward(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), g, compute_stream());
  });
}

void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate, const Pool2dParams& p,
                         Layout layout) {
  const char* op = "avg_pool2d backward";
  const launch::PoolGeometry g = geometry(op, dx.shape(), dy.shape(), p, false);
  const StorageDType st(op, dy, "dy");
  st.check(dx, "dx");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::avg_pool_backward_nhwc(st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"), g, dx.dim(1),
                                     accumulate, compute_stream());
    else
      launch::avg_pool_backward(st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"), g, accumulate,
                                compute_stream());
  });
}

void global_avg_pool_forward(const Tensor& x, Tensor& y, Layout layout) {
  const char* op = "global_avg_pool";
  require_global(op, x.shape(), y.shape());
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::global_avg_pool_forward_nhwc(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), x.dim(0),
                                           x.dim(1), x.dim(2) * x.dim(3), compute_stream());
    else
      launch::global_avg_pool_forward(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), x.dim(0) * x.dim(1),
                                      x.dim(2) * x.dim(3), compute_stream());
  });
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate, Layout layout) {
  const char* op = "global_avg_pool backward";
  require_global(op, dx.shape(), dy.shape());
  const StorageDType st(op, dy, "dy");
  st.check(dx, "dx");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == Layout::NHWC)
      launch::global_avg_pool_backward_nhwc(st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"), dx.dim(0),
                                            dx.dim(1), dx.dim(2) * dx.dim(3), accumulate,
                                            compute_stream());
    else
      launch::global_avg_pool_backward(st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"),
                                       dx.dim(0) * dx.dim(1), dx.dim(2) * dx.dim(3), accumulate,
                                       compute_stream());
  });
}

}  // namespace te::ops::cuda
