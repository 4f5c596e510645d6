#include "engine/layers/layer.h"

#include <cmath>

#include "engine/core/philox.h"

namespace te {

Param& Layer::declare_param(const std::string& name, const Shape& shape, Init init,
                            int64_t fan_in, int64_t fan_out) {
  Param p;
  p.name = name;
  p.shape = shape;
  p.init = init;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  params_.push_back(std::move(p));
  return params_.back();
}

Param& Layer::declare_buffer(const std::string& name, const Shape& shape, Init init, DType dtype) {
  Param p;
  p.name = name;
  p.shape = shape;
  p.init = init;
  p.dtype = dtype;
  buffers_.push_back(std::move(p));
  return buffers_.back();
}

void Layer::allocate_unbound(DType dtype, Device device) {
  for (auto& p : params_) {
    if (!p.value.defined()) p.value = Tensor::zeros(p.shape, dtype, device);
    if (!p.grad.defined()) p.grad = Tensor::zeros(p.shape, dtype, device);
  }
  for (auto& b : buffers_) {
    const DType t = (b.dtype == DType::F32) ? dtype : b.dtype;
    if (!b.value.defined()) b.value = Tensor::zeros(b.shape, t, device);
  }
}

namespace {
void init_one(Param& p, uint64_t seed, uint64_t stream) {
  Tensor host = Tensor::empty(p.value.shape(), p.value.dtype());
  const int64_t n = host.numel();
  std::vector<double> v(static_cast<size_t>(n), 0.0);
  CounterRng rng(seed, stream, 0);
  switch (p.init) {
    case Init::Zeros: break;
    case Init::Ones: std::fill(v.begin(), v.end(), 1.0); break;
    case Init::KaimingNormalFanOut: {
      const double std = std::sqrt(2.0 / static_cast<double>(p.fan_out));
      for (auto& x : v) x = std * rng.normal();
      break;
    }
    case Init::UniformFanIn: {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.fan_in));
      for (auto& x : v) x = bound * (2.0 * rng.uniform() - 1.0);
      break;
    }
  }
  switch (host.dtype()) {
    case DType::F32: for (int64_t i = 0; i < n; ++i) host.data<float>()[i] = static_cast<float>(v[i]); break;
    case DType::F64: for (int64_t i = 0; i < n; ++i) host.data<double>()[i] = v[i]; break;
    case DType::I64: for (int64_t i = 0; i < n; ++i) host.data<int64_t>()[i] = static_cast<int64_t>(v[i]); break;
    default: throw Error(std::string("init: unsupported dtype ") + dtype_name(host.dtype()));
  }
  p.value.copy_from(host);
}
}  // namespace

void Layer::init_params(uint64_t seed, uint64_t stream) {
  uint64_t k = 0;
  for (auto& p : params_) init_one(p, seed, stream * 64 + k++);
  for (auto& b : buffers_) init_one(b, seed, stream * 64 + k++);
}

void ensure_shape(Tensor& t, const Shape& shape, DType dtype, Device device) {
  if (t.defined() && t.shape() == shape && t.dtype() == dtype && t.device() == device) return;
  if (t.defined() && t.dtype() == dtype && t.device() == device && t.numel() == shape.numel()) {
    t = t.reshape(shape);
    return;
  }
  t = Tensor::empty(shape, dtype, device);
}

void ensure_view(Tensor& buffer, Tensor& view, const Shape& shape, DType dtype, Device device) {
  if (!buffer.defined() || buffer.numel() < shape.numel() || buffer.dtype() != dtype ||
      buffer.device() != device)
    buffer = Tensor::empty(Shape{shape.numel()}, dtype, device);
  if (!view.defined() || view.shape() != shape || view.raw() != buffer.raw())
    view = buffer.slice_flat(0, shape);
}

}  // namespace te
