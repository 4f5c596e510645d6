// Convolution and linear in the SIMT emulation, where cuDNN and cuBLAS do not exist: computed
// by the CPU reference (kernels/cpu) on host copies of the operands, in f32 and NCHW (NHWC
// activations are reordered on the way), and rounded once into the output's dtype, as cuDNN and cuBLAS accumulate 16-bit operands in f32 and round
// once (a blend into an existing output, dx += or dw +=, reads the old value in f32 first).
// This is what lets a whole training step on the emulated device run (the graph, the layers'
// dispatch, our own kernels around these calls, the batch feed, the optimizer) on every
// commit. It says nothing about cuDNN or cuBLAS themselves: the tests that compare these two
// operations with the CPU reference stay GPU-only (tests/cuda/conv_linear_ops_test.cpp and
// others), since here they would compare the reference with itself.
#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "engine/core/half.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"

namespace te::ops::cuda {
namespace {

// A CPU f32 copy of a (device) tensor of dtype f32, bf16 or f16.
Tensor host_f32(const Tensor& t, const char* op) {
  const Tensor host = t.to(Device::cpu());
  if (host.dtype() == DType::F32) return host;
  if (host.dtype() != DType::BF16 && host.dtype() != DType::F16)
    throw DeviceError(std::string(op) + " in the emulation: dtype " + dtype_name(t.dtype()) +
                      " is not supported (f32, bf16 or f16)");
  Tensor out = Tensor::empty(host.shape(), DType::F32);
  const auto* in = static_cast<const uint16_t*>(host.raw());
  float* o = out.data<float>();
  const bool bf16 = host.dtype() == DType::BF16;
  for (int64_t i = 0; i < host.numel(); ++i) o[i] = bf16 ? bf16_to_float(in[i]) : f16_to_float(in[i]);
  return out;
}

// `dst` (device, any of the three dtypes) = `value` (CPU f32), rounded once.
void store(const Tensor& value, Tensor& dst) {
  if (dst.dtype() == DType::F32) return dst.copy_from(value);
  Tensor rounded = Tensor::empty(value.shape(), dst.dtype());
  auto* o = static_cast<uint16_t*>(rounded.raw());
  const float* in = value.data<float>();
  const bool bf16 = dst.dtype() == DType::BF16;
  for (int64_t i = 0; i < value.numel(); ++i) o[i] = bf16 ? float_to_bf16(in[i]) : float_to_f16(in[i]);
  dst.copy_from(rounded);
}

// The old contents when the operation adds to them, else uninitialised f32 memory.
Tensor host_output(const Tensor& t, bool accumulate, const char* op) {
  return accumulate ? host_f32(t, op) : Tensor::empty(t.shape(), DType::F32);
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
Tensor host_activation(const Tensor& t, Layout layout, const char* op) {
  const Tensor f = host_f32(t, op);
  return layout == Layout::NHWC ? reorder(f, Layout::NHWC) : f;
}

// An activation output: `value` (host f32 NCHW) into `dst` in its layout and dtype.
void store_activation(const Tensor& value, Tensor& dst, Layout layout) {
  store(layout == Layout::NHWC ? reorder(value, Layout::NCHW) : value, dst);
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_forward";
  const Tensor hb = bias ? host_f32(*bias, op) : Tensor();
  Tensor hy = host_output(y, false, op);
  cpu::conv2d_forward(host_activation(x, layout, op), host_f32(w, op), bias ? &hb : nullptr, hy,
                      p, ws);
  store_activation(hy, y, layout);
}

void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_backward_input";
  Tensor hdx = accumulate ? host_activation(dx, layout, op) : host_output(dx, false, op);
  cpu::conv2d_backward_input(host_activation(dy, layout, op), host_f32(w, op), hdx, accumulate,
                             p, ws);
  store_activation(hdx, dx, layout);
}

void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_backward_params";
  Tensor hdw = host_f32(dw, op), hdb = db ? host_f32(*db, op) : Tensor();
  cpu::conv2d_backward_params(host_activation(x, layout, op), host_activation(dy, layout, op),
                              hdw, db ? &hdb : nullptr, p, ws);
  store(hdw, dw);
  if (db) store(hdb, *db);
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const char* op = "linear_forward";
  const Tensor hb = bias ? host_f32(*bias, op) : Tensor();
  Tensor hy = host_output(y, false, op);
  cpu::linear_forward(host_f32(x, op), host_f32(w, op), bias ? &hb : nullptr, hy);
  store(hy, y);
}

void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  const char* op = "linear_backward_input";
  Tensor hdx = host_output(dx, accumulate, op);
  cpu::linear_backward_input(host_f32(dy, op), host_f32(w, op), hdx, accumulate);
  store(hdx, dx);
}

void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  const char* op = "linear_backward_params";
  Tensor hdw = host_f32(dw, op), hdb = db ? host_f32(*db, op) : Tensor();
  cpu::linear_backward_params(host_f32(x, op), host_f32(dy, op), hdw, db ? &hdb : nullptr);
  store(hdw, dw);
  if (db) store(hdb, *db);
}

}  // namespace te::ops::cuda
