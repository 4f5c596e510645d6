// Conv2d on the CPU: im2col + GEMM on OpenBLAS, threads over independent work items.
//
// Plan (all splits depend only on the shapes, never on the thread count, and every output
// element is produced by one fixed sequence of GEMM calls, so results are bit-identical for
// any number of threads). Stride-1 convolutions on large maps take the per-tap scheme of
// conv2d_taps.h instead (no im2col); everything else:
// - forward / input gradient: the batch is cut into chunks of images. Each chunk builds its
//   column matrix cols[C*kh*kw, imgs*OH*OW] (im2col; skipped for 1x1/stride 1/no padding, where
//   an image is its own column matrix) and runs, per group, y = W x cols (forward) or
//   dcols = W^T x dy followed by col2im (input gradient). Large feature maps use one image
//   per chunk and write straight into y / dx; small ones (late ResNet stages, 7x7) put a few
//   images side by side so the GEMM is not too thin.
// - weight gradient, two schemes chosen by shape: while dW is small, each chunk computes a
//   partial dW and the partials are summed in chunk order; when dW is large (late layers),
//   dW[O, C/G*kh*kw] is cut into column blocks, each owned by one slot, which builds just its
//   rows of the column matrix and accumulates over the batch in image order.
// Parallel "slots" each own a scratch block of the layer's Conv2dWorkspace.
#include "kernels/conv2d.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "kernels/cpu/conv2d_plan.h"
#include "kernels/cpu/conv2d_taps.h"
#include "kernels/cpu/im2col.h"
#include "kernels/gemm.h"

namespace te::ops::cpu {
namespace {

using namespace conv_detail;

// One image's column matrix can be far larger than the L2 cache (the 7x7 stem: 147 rows x
// 12544 columns, 7 MB), so im2col's writes and the GEMM's reads would both go to memory. Such
// images are processed in blocks of output rows whose columns (~kBlockElements entries) stay
// in cache between the two. Blocks depend on the shape only.
constexpr int64_t kBlockElements = int64_t{1} << 17;

bool row_blocked(const Plan& pl, int64_t per) {
  return per == 1 && !pl.pointwise && pl.k * pl.p > 2 * kBlockElements && pl.geo.out_h > 1;
}

int64_t rows_per_block(const Plan& pl) {
  return std::clamp<int64_t>(kBlockElements / (pl.k * pl.geo.out_w), 1, pl.geo.out_h);
}

// The geometry of output rows [oh0, oh0 + rows) of the same image: the padding shifts.
ConvGeometry row_block(const ConvGeometry& g, int64_t oh0, int64_t rows) {
  ConvGeometry b = g;
  b.pad_h = g.pad_h - oh0 * g.stride_h;
  b.out_h = rows;
  return b;
}

// The batch cut into chunks of `per` images (forward, input gradient, weight gradient by
// chunks). Each slot's scratch holds one chunk's column matrix [k, cols_max] followed, when a
// chunk has several images, by one [o, cols_max] block (gathered dy, or the GEMM output).
struct Chunks {
  int64_t per, count, cols_max, slots;
};

template <typename T>
Chunks prepare_chunks(const Plan& pl, Conv2dWorkspace& ws) {
  Chunks ch;
  ch.per = images_per_chunk(pl.n, pl.p);
  ch.count = ceil_div(pl.n, ch.per);
  ch.cols_max = ch.per * pl.p;
  ch.slots = slot_count(ch.count);
  ws.prepare_cpu(static_cast<size_t>(ch.slots),
                 sizeof(T) * static_cast<size_t>((pl.k + (ch.per > 1 ? pl.o : 0)) * ch.cols_max));
  return ch;
}

// dy of images [n0, n0 + imgs) as a [O, imgs * P] matrix: in place for one image, otherwise
// gathered side by side into the slot's second block (see Chunks).
template <typename T>
const T* chunk_grad(const T* dy, const Plan& pl, const Chunks& ch, int64_t n0, int64_t imgs,
                    T* buf) {
  if (imgs == 1) return dy + n0 * pl.o * pl.p;
  T* gathered = buf + pl.k * ch.cols_max;
  gather_images(dy, pl.o, 0, pl.o, pl.p, n0, imgs, gathered, imgs * pl.p);
  return gathered;
}

// Column matrix of images [n0, n0 + imgs) (rows [row0, row1)) in `buf` with row stride
// `cols`; returns where it is (the input itself for a single pointwise image).
template <typename T>
const T* columns_of(const T* x, const Plan& pl, int64_t n0, int64_t imgs, int64_t row0,
                    int64_t row1, T* buf) {
  if (pl.pointwise && imgs == 1) return x + n0 * pl.c * pl.hw + row0 * pl.hw;  // row k = channel k
  const int64_t cols = imgs * pl.p;
  for (int64_t i = 0; i < imgs; ++i)
    im2col_rows(x + (n0 + i) * pl.c * pl.hw, pl.geo, row0, row1, buf + i * pl.p, cols);
  return buf;
}

template <typename T>
void forward_impl(const Tensor& xt, const Tensor& wt, const Tensor* bt, Tensor& yt,
                  const Conv2dParams& prm, Conv2dWorkspace& ws) {
  const Plan pl = make_plan(xt.shape(), wt.shape(), prm);
  require_shape(yt, Shape{pl.n, pl.o, pl.geo.out_h, pl.geo.out_w}, "output");
  if (bt) require_shape(*bt, Shape{pl.o}, "bias");
  if (pl.n == 0) return;
  const T* x = xt.data<T>();
  const T* w = wt.data<T>();
  const T* bias = bt ? bt->data<T>() : nullptr;
  T* y = yt.data<T>();
  if (taps_suit(pl, ConvPass::Forward)) return taps_forward(x, w, bias, y, pl, ws);
  const Chunks ch = prepare_chunks<T>(pl, ws);
  run_slots(ch.slots, ch.count, [&](int64_t slot, int64_t chunk) {
    const int64_t n0 = chunk * ch.per, imgs = std::min(ch.per, pl.n - n0), cols = imgs * pl.p;
    T* buf = ws.cpu_slot<T>(static_cast<size_t>(slot));
    if (row_blocked(pl, ch.per)) {
      T* yn = y + n0 * pl.o * pl.p;
      const int64_t rpb = rows_per_block(pl);
      for (int64_t oh0 = 0; oh0 < pl.geo.out_h; oh0 += rpb) {
        const int64_t rows = std::min(rpb, pl.geo.out_h - oh0), bc = rows * pl.geo.out_w;
        im2col_rows(x + n0 * pl.c * pl.hw, row_block(pl.geo, oh0, rows), 0, pl.k, buf, bc);
        for (int64_t g = 0; g < pl.groups; ++g)
          gemm<T>(false, false, pl.og, bc, pl.kg, T(1), w + g * pl.og * pl.kg, pl.kg,
                  buf + g * pl.kg * bc, bc, T(0), yn + g * pl.og * pl.p + oh0 * pl.geo.out_w,
                  pl.p);
      }
      if (bias)
        for (int64_t o = 0; o < pl.o; ++o)
          for (int64_t q = 0; q < pl.p; ++q) yn[o * pl.p + q] += bias[o];
      return;
    }
    const T* col = columns_of(x, pl, n0, imgs, 0, pl.k, buf);
    // One image: straight into y. Several: into scratch, then scattered to NCHW below.
    T* out = imgs == 1 ? y + n0 * pl.o * pl.p : buf + pl.k * ch.cols_max;
    for (int64_t g = 0; g < pl.groups; ++g)
      gemm<T>(false, false, pl.og, cols, pl.kg, T(1), w + g * pl.og * pl.kg, pl.kg,
              col + g * pl.kg * cols, cols, T(0), out + g * pl.og * cols, cols);
    for (int64_t i = 0; i < imgs; ++i)
      for (int64_t o = 0; o < pl.o; ++o) {
        T* dst = y + ((n0 + i) * pl.o + o) * pl.p;
        const T* src = out + o * cols + i * pl.p;
        const T b = bias ? bias[o] : T(0);
        if (dst == src) {
          if (bias)
            for (int64_t q = 0; q < pl.p; ++q) dst[q] += b;
        } else {
          for (int64_t q = 0; q < pl.p; ++q) dst[q] = src[q] + b;
        }
      }
  });
}

template <typename T>
void backward_input_impl(const Tensor& dyt, const Tensor& wt, Tensor& dxt, bool accumulate,
                         const Conv2dParams& prm, Conv2dWorkspace& ws) {
  const Plan pl = make_plan(dxt.shape(), wt.shape(), prm);
  require_shape(dyt, Shape{pl.n, pl.o, pl.geo.out_h, pl.geo.out_w}, "output gradient");
  if (pl.n == 0) return;
  const T* dy = dyt.data<T>();
  const T* w = wt.data<T>();
  T* dx = dxt.data<T>();
  if (taps_suit(pl, ConvPass::InputGrad)) return taps_backward_input(dy, w, dx, accumulate, pl, ws);
  const Chunks ch = prepare_chunks<T>(pl, ws);
  run_slots(ch.slots, ch.count, [&](int64_t slot, int64_t chunk) {
    const int64_t n0 = chunk * ch.per, imgs = std::min(ch.per, pl.n - n0), cols = imgs * pl.p;
    T* buf = ws.cpu_slot<T>(static_cast<size_t>(slot));
    const T* grad = chunk_grad(dy, pl, ch, n0, imgs, buf);
    if (pl.pointwise && imgs == 1) {  // dx = W^T dy directly, no col2im
      T* dxn = dx + n0 * pl.c * pl.hw;
      for (int64_t g = 0; g < pl.groups; ++g)
        gemm<T>(true, false, pl.kg, cols, pl.og, T(1), w + g * pl.og * pl.kg, pl.kg,
                grad + g * pl.og * cols, cols, accumulate ? T(1) : T(0), dxn + g * pl.kg * cols,
                cols);
      return;
    }
    for (int64_t g = 0; g < pl.groups; ++g)
      gemm<T>(true, false, pl.kg, cols, pl.og, T(1), w + g * pl.og * pl.kg, pl.kg,
              grad + g * pl.og * cols, cols, T(0), buf + g * pl.kg * cols, cols);
    for (int64_t i = 0; i < imgs; ++i) {
      T* dxn = dx + (n0 + i) * pl.c * pl.hw;
      if (!accumulate) std::fill(dxn, dxn + pl.c * pl.hw, T(0));
      col2im_rows_add(buf + i * pl.p, cols, pl.geo, 0, pl.k, dxn);
    }
  });
}

template <typename T>
void bias_grad(const T* dy, const Plan& pl, T* db) {
  parallel_for(pl.o, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      double s = 0;
      for (int64_t n = 0; n < pl.n; ++n) {
        const T* row = dy + (n * pl.o + o) * pl.p;
        for (int64_t q = 0; q < pl.p; ++q) s += row[q];
      }
      db[o] += static_cast<T>(s);
    }
  });
}

// Weight gradient when dW is small next to a chunk's column matrix (early, wide layers):
// each chunk computes its full partial dW with one GEMM per group (each operand packed once),
// then the partials are summed in chunk order.
template <typename T>
void weight_grad_by_chunks(const T* x, const T* dy, const Plan& pl, T* dw, Conv2dWorkspace& ws) {
  const Chunks ch = prepare_chunks<T>(pl, ws);
  const int64_t chunks = ch.count, wsize = pl.o * pl.kg;
  T* partials = ws.cpu_shared<T>(static_cast<size_t>(chunks * wsize));
  run_slots(ch.slots, chunks, [&](int64_t slot, int64_t chunk) {
    const int64_t n0 = chunk * ch.per, imgs = std::min(ch.per, pl.n - n0), cols = imgs * pl.p;
    T* buf = ws.cpu_slot<T>(static_cast<size_t>(slot));
    T* part = partials + chunk * wsize;
    if (row_blocked(pl, ch.per)) {  // partial dW accumulated block by block
      const T* dyn = dy + n0 * pl.o * pl.p;
      const int64_t rpb = rows_per_block(pl);
      for (int64_t oh0 = 0; oh0 < pl.geo.out_h; oh0 += rpb) {
        const int64_t rows = std::min(rpb, pl.geo.out_h - oh0), bc = rows * pl.geo.out_w;
        im2col_rows(x + n0 * pl.c * pl.hw, row_block(pl.geo, oh0, rows), 0, pl.k, buf, bc);
        for (int64_t g = 0; g < pl.groups; ++g)
          gemm<T>(false, true, pl.og, pl.kg, bc, T(1),
                  dyn + g * pl.og * pl.p + oh0 * pl.geo.out_w, pl.p, buf + g * pl.kg * bc, bc,
                  oh0 > 0 ? T(1) : T(0), part + g * pl.og * pl.kg, pl.kg);
      }
      return;
    }
    const T* col = columns_of(x, pl, n0, imgs, 0, pl.k, buf);
    const T* grad = chunk_grad(dy, pl, ch, n0, imgs, buf);
    for (int64_t g = 0; g < pl.groups; ++g)
      gemm<T>(false, true, pl.og, pl.kg, cols, T(1), grad + g * pl.og * cols, cols,
              col + g * pl.kg * cols, cols, T(0), part + g * pl.og * pl.kg, pl.kg);
  });
  parallel_for(wsize, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T s = partials[i];
      for (int64_t c = 1; c < chunks; ++c) s += partials[c * wsize + i];
      dw[i] += s;
    }
  });
}

// Weight gradient when dW is large (late layers: many channels, small maps): dW is cut into
// column blocks, each owned by one slot, which builds just its rows of the column matrix and
// accumulates dW_block += dy x cols_block^T over the batch in image order. No partials.
template <typename T>
void weight_grad_by_blocks(const T* x, const T* dy, const Plan& pl, T* dw, Conv2dWorkspace& ws) {
  // ~4 work items in all, so two or four cores share the GEMMs evenly.
  const int64_t blocks = pl.groups >= 4 ? 1 : std::min(pl.kg, ceil_div(4, pl.groups));
  const int64_t kb_max = ceil_div(pl.kg, blocks);
  // Images per GEMM: as many as fit ~1M scratch elements (a long GEMM inner dimension).
  constexpr int64_t kScratchElements = int64_t{1} << 20;
  const int64_t per = std::clamp<int64_t>(kScratchElements / ((pl.og + kb_max) * pl.p), 1, pl.n);
  const int64_t cols_max = per * pl.p, items = pl.groups * blocks, slots = slot_count(items);
  ws.prepare_cpu(static_cast<size_t>(slots),
                 sizeof(T) * static_cast<size_t>((pl.og + kb_max) * cols_max));
  run_slots(slots, items, [&](int64_t slot, int64_t item) {
    const int64_t g = item / blocks, b = item % blocks;
    const int64_t k0 = b * pl.kg / blocks, k1 = (b + 1) * pl.kg / blocks;
    T* col_buf = ws.cpu_slot<T>(static_cast<size_t>(slot));
    T* dy_buf = col_buf + kb_max * cols_max;
    for (int64_t n0 = 0; n0 < pl.n; n0 += per) {
      const int64_t imgs = std::min(per, pl.n - n0), cols = imgs * pl.p;
      const T* a = dy + (n0 * pl.o + g * pl.og) * pl.p;
      if (imgs > 1) {
        gather_images(dy, pl.o, g * pl.og, pl.og, pl.p, n0, imgs, dy_buf, cols);
        a = dy_buf;
      }
      const T* bm = columns_of(x, pl, n0, imgs, g * pl.kg + k0, g * pl.kg + k1, col_buf);
      gemm<T>(false, true, pl.og, k1 - k0, cols, T(1), a, cols, bm, cols, T(1),
              dw + g * pl.og * pl.kg + k0, pl.kg);
    }
  });
}

template <typename T>
void backward_params_impl(const Tensor& xt, const Tensor& dyt, Tensor& dwt, Tensor* dbt,
                          const Conv2dParams& prm, Conv2dWorkspace& ws) {
  const Plan pl = make_plan(xt.shape(), dwt.shape(), prm);
  require_shape(dyt, Shape{pl.n, pl.o, pl.geo.out_h, pl.geo.out_w}, "output gradient");
  if (dbt) require_shape(*dbt, Shape{pl.o}, "bias gradient");
  if (pl.n == 0) return;  // an empty batch adds nothing
  const T* x = xt.data<T>();
  const T* dy = dyt.data<T>();
  if (dbt) bias_grad(dy, pl, dbt->data<T>());
  // Partials cost one extra pass over chunks x |dW|; worth it while dW is no bigger than a
  // chunk's column matrix, which the blocked scheme would otherwise re-read per block.
  const int64_t chunk_columns = pl.k * images_per_chunk(pl.n, pl.p) * pl.p;
  if (taps_suit(pl, ConvPass::WeightGrad))
    taps_weight_grad(x, dy, dwt.data<T>(), pl, ws);
  else if (pl.o * pl.kg <= chunk_columns)
    weight_grad_by_chunks(x, dy, pl, dwt.data<T>(), ws);
  else
    weight_grad_by_blocks(x, dy, pl, dwt.data<T>(), ws);
}

[[noreturn]] void channels_last_unsupported(const char* op) {
  throw DeviceError(std::string(op) + ": channels-last (NHWC) runs on CUDA only");
}

[[noreturn]] void unsupported(const char* op, DType t) {
  throw Error(std::string(op) + ": unsupported dtype " + dtype_name(t) + " (expected f32 or f64)");
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  if (layout == Layout::NHWC) channels_last_unsupported("conv2d_forward");
  switch (x.dtype()) {
    case DType::F32:
      return forward_impl<float>(x, w, bias, y, p, ws);
    case DType::F64:
      return forward_impl<double>(x, w, bias, y, p, ws);
    default:
      unsupported("conv2d_forward", x.dtype());
  }
}

void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  if (layout == Layout::NHWC) channels_last_unsupported("conv2d_backward_input");
  switch (dy.dtype()) {
    case DType::F32:
      return backward_input_impl<float>(dy, w, dx, accumulate, p, ws);
    case DType::F64:
      return backward_input_impl<double>(dy, w, dx, accumulate, p, ws);
    default:
      unsupported("conv2d_backward_input", dy.dtype());
  }
}

void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  if (layout == Layout::NHWC) channels_last_unsupported("conv2d_backward_params");
  switch (x.dtype()) {
    case DType::F32:
      return backward_params_impl<float>(x, dy, dw, db, p, ws);
    case DType::F64:
      return backward_params_impl<double>(x, dy, dw, db, p, ws);
    default:
      unsupported("conv2d_backward_params", x.dtype());
  }
}

}  // namespace te::ops::cpu
