// Convolution and linear in the SIMT emulation, where cuDNN and cuBLAS do not exist: computed
// by the CPU reference (kernels/cpu) on host copies of the operands, in f32 and NCHW (NHWC
// activations are reordered on the way), and rounded once into the output's dtype, as cuDNN and
// cuBLAS accumulate 16-bit operands in f32 and round once (a blend into an existing output,
// dx += or dw +=, reads the old value in f32 first).
// Each call is one piece of work on the compute stream, like the library's kernels on a GPU:
// it reads and writes the operands' device memory (host memory here) when the stream runs it,
// so it is ordered with our kernels, deferred with deferred streams and recorded by a capture
// (with the addresses it was issued with, as a captured cuDNN call is).
// This is what lets a whole training step on the emulated device run (the graph, the layers'
// dispatch, our own kernels around these calls, the batch feed, the optimizer, CUDA graphs) on
// every commit. It says nothing about cuDNN or cuBLAS themselves: the tests that compare these
// two operations with the CPU reference stay GPU-only (tests/cuda/conv_linear_ops_test.cpp and
// others), since here they would compare the reference with itself.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "engine/core/error.h"
#include "engine/core/half.h"
#include "kernels/conv2d.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/emu/stream_queue.h"
#include "kernels/linear.h"

namespace te::ops::cuda {
namespace {

// A device tensor as queued work sees it: its memory, shape and dtype when the call was issued
// (not the Tensor, which would keep the memory alive, as a GPU does not).
struct Operand {
  void* data;
  Shape shape;
  DType dtype;
};
Operand operand(const Tensor& t, const char* op) {
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    throw DeviceError(std::string(op) + " in the emulation: dtype " + dtype_name(t.dtype()) +
                      " is not supported (f32, bf16 or f16)");
  return {const_cast<void*>(t.raw()), t.shape(), t.dtype()};
}
std::optional<Operand> optional_operand(const Tensor* t, const char* op) {
  return t ? std::optional<Operand>(operand(*t, op)) : std::nullopt;
}

// A CPU f32 copy of the operand's current device bytes.
Tensor host_f32(const Operand& o) {
  Tensor out = Tensor::empty(o.shape, DType::F32);
  float* f = out.data<float>();
  if (o.dtype == DType::F32) {
    std::memcpy(f, o.data, static_cast<size_t>(out.nbytes()));
    return out;
  }
  const auto* in = static_cast<const uint16_t*>(o.data);
  const bool bf16 = o.dtype == DType::BF16;
  for (int64_t i = 0; i < out.numel(); ++i) f[i] = bf16 ? bf16_to_float(in[i]) : f16_to_float(in[i]);
  return out;
}

// The operand's device bytes = `value` (CPU f32), rounded once.
void store(const Tensor& value, const Operand& dst) {
  const float* in = value.data<float>();
  if (dst.dtype == DType::F32) {
    std::memcpy(dst.data, in, static_cast<size_t>(value.nbytes()));
    return;
  }
  auto* o = static_cast<uint16_t*>(dst.data);
  const bool bf16 = dst.dtype == DType::BF16;
  for (int64_t i = 0; i < value.numel(); ++i) o[i] = bf16 ? float_to_bf16(in[i]) : float_to_f16(in[i]);
}

// The old contents when the operation adds to them, else uninitialised f32 memory.
Tensor host_output(const Operand& o, bool accumulate) {
  return accumulate ? host_f32(o) : Tensor::empty(o.shape, DType::F32);
}

// A host f32 [N, C, H, W] activation between NHWC and NCHW memory order (the shape stays
// [N, C, H, W]): the CPU reference convolves NCHW only.
Tensor reorder(const Tensor& t, Layout from) {
  const int64_t n = t.dim(0), c = t.dim(1), hw = t.dim(2) * t.dim(3);
  Tensor out = Tensor::empty(t.shape(), DType::F32);
  const float* in = t.data<float>();
  float* o = out.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t nchw = (b * c + ch) * hw + p, nhwc = (b * hw + p) * c + ch;
        if (from == Layout::NHWC) o[nchw] = in[nhwc];
        else o[nhwc] = in[nchw];
      }
  return out;
}

// An activation operand as the CPU reference reads it: f32, NCHW.
Tensor host_activation(const Operand& o, Layout layout) {
  const Tensor f = host_f32(o);
  return layout == Layout::NHWC ? reorder(f, Layout::NHWC) : f;
}

// An activation output: `value` (host f32 NCHW) into `dst` in its layout and dtype.
void store_activation(const Tensor& value, const Operand& dst, Layout layout) {
  store(layout == Layout::NHWC ? reorder(value, Layout::NCHW) : value, dst);
}

// The CPU reference's scratch memory. Not the layer's workspace: queued work may run after the
// layer is gone (a GPU's library calls keep no host memory either). Queued work runs one item
// at a time (stream_queue.h), so one workspace serves every call.
Conv2dWorkspace& scratch() {
  static auto* ws = new Conv2dWorkspace;
  return *ws;
}

// Issues `work` to the compute stream, where the library call would have queued its kernels.
void on_compute_stream(std::function<void()> work) {
  te::emu::submit(te::cuda::context().compute, std::move(work));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& /*layer_ws: see scratch()*/, Layout layout) {
  const char* op = "conv2d_forward";
  on_compute_stream([x = operand(x, op), w = operand(w, op), b = optional_operand(bias, op),
                     y = operand(y, op), p, layout] {
    const Tensor hb = b ? host_f32(*b) : Tensor();
    Tensor hy = host_output(y, false);
    cpu::conv2d_forward(host_activation(x, layout), host_f32(w), b ? &hb : nullptr, hy, p, scratch());
    store_activation(hy, y, layout);
  });
}

void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& /*layer_ws: see scratch()*/, Layout layout) {
  const char* op = "conv2d_backward_input";
  on_compute_stream([dy = operand(dy, op), w = operand(w, op), dx = operand(dx, op), accumulate, p,
                     layout] {
    Tensor hdx = accumulate ? host_activation(dx, layout) : host_output(dx, false);
    cpu::conv2d_backward_input(host_activation(dy, layout), host_f32(w), hdx, accumulate, p, scratch());
    store_activation(hdx, dx, layout);
  });
}

void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& /*layer_ws: see scratch()*/, Layout layout) {
  const char* op = "conv2d_backward_params";
  on_compute_stream([x = operand(x, op), dy = operand(dy, op), dw = operand(dw, op),
                     db = optional_operand(db, op), p, layout] {
    Tensor hdw = host_f32(dw), hdb = db ? host_f32(*db) : Tensor();
    cpu::conv2d_backward_params(host_activation(x, layout), host_activation(dy, layout), hdw,
                                db ? &hdb : nullptr, p, scratch());
    store(hdw, dw);
    if (db) store(hdb, *db);
  });
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const char* op = "linear_forward";
  on_compute_stream([x = operand(x, op), w = operand(w, op), b = optional_operand(bias, op),
                     y = operand(y, op)] {
    const Tensor hb = b ? host_f32(*b) : Tensor();
    Tensor hy = host_output(y, false);
    cpu::linear_forward(host_f32(x), host_f32(w), b ? &hb : nullptr, hy);
    store(hy, y);
  });
}

void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  const char* op = "linear_backward_input";
  on_compute_stream([dy = operand(dy, op), w = operand(w, op), dx = operand(dx, op), accumulate] {
    Tensor hdx = host_output(dx, accumulate);
    cpu::linear_backward_input(host_f32(dy), host_f32(w), hdx, accumulate);
    store(hdx, dx);
  });
}

void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  const char* op = "linear_backward_params";
  on_compute_stream([x = operand(x, op), dy = operand(dy, op), dw = operand(dw, op),
                     db = optional_operand(db, op)] {
    Tensor hdw = host_f32(dw), hdb = db ? host_f32(*db) : Tensor();
    cpu::linear_backward_params(host_f32(x), host_f32(dy), hdw, db ? &hdb : nullptr);
    store(hdw, dw);
    if (db) store(hdb, *db);
  });
}

}  // namespace te::ops::cuda

namespace te::cuda {
// cuDNN's timed engine search (cudnn_conv.h): the emulation has no engines to time, so the
// setting is kept (a benchmark reports it) and changes nothing.
namespace {
std::atomic<bool> g_autotune{false};
}  // namespace
void set_conv_autotune(bool on) { g_autotune = on; }
bool conv_autotune() { return g_autotune.load(); }
}  // namespace te::cuda
