#include "engine/core/tensor.h"

#include "engine/core/half.h"

#include <string>

namespace te {
namespace {
DeviceCopyFn g_device_copy = nullptr;
DeviceZeroFn g_device_zero = nullptr;

void require_same_numel(const Shape& a, const Shape& b, const char* what) {
  if (a.numel() != b.numel())
    throw ShapeError(std::string(what) + ": " + a.str() + " and " + b.str() +
                     " have different numbers of elements");
}
}  // namespace

Storage::Storage(size_t bytes, Allocator& allocator)
    : data_(allocator.allocate(bytes)), bytes_(bytes), allocator_(allocator) {}

Storage::~Storage() { allocator_.deallocate(data_, bytes_); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape.dims())
    if (d < 0) throw ShapeError("negative dimension in shape " + shape.str());
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  t.storage_ = std::make_shared<Storage>(bytes, default_allocator(device));
  return t;
}

Tensor Tensor::empty_with(const Shape& shape, DType dtype, Allocator& allocator) {
  for (int64_t d : shape.dims())
    if (d < 0) throw ShapeError("negative dimension in shape " + shape.str());
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = allocator.device();
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  t.storage_ = std::make_shared<Storage>(bytes, allocator);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError("from_vector: " + std::to_string(values.size()) + " values for shape " +
                     shape.str());
  Tensor t = empty(shape, dtype);
  if (dtype == DType::F32) {
    std::memcpy(t.raw(), values.data(), values.size() * sizeof(float));
  } else if (dtype == DType::F64) {
    double* p = t.data<double>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  } else if (dtype == DType::I32) {
    int32_t* p = t.data<int32_t>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<int32_t>(values[i]);
  } else if (dtype == DType::I64) {
    int64_t* p = t.data<int64_t>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<int64_t>(values[i]);
  } else if (dtype == DType::U8) {
    uint8_t* p = t.data<uint8_t>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<uint8_t>(values[i]);
  } else {
    throw Error(std::string("from_vector: unsupported dtype ") + dtype_name(dtype));
  }
  return t;
}

Tensor Tensor::from_vector_f64(const Shape& shape, const std::vector<double>& values) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError("from_vector_f64: " + std::to_string(values.size()) + " values for shape " +
                     shape.str());
  Tensor t = empty(shape, DType::F64);
  std::memcpy(t.raw(), values.data(), values.size() * sizeof(double));
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  require_same_numel(shape_, shape, "reshape");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice_flat(int64_t offset, const Shape& shape) const {
  const size_t end_bytes =
      offset_bytes_ + static_cast<size_t>(offset + shape.numel()) * dtype_size(dtype_);
  if (offset < 0 || !storage_ || end_bytes > storage_->bytes())
    throw ShapeError("slice_flat: elements [" + std::to_string(offset) + ", +" +
                     std::to_string(shape.numel()) + ") are outside the storage");
  Tensor t = *this;
  t.offset_bytes_ = offset_bytes_ + static_cast<size_t>(offset) * dtype_size(dtype_);
  t.shape_ = shape;
  return t;
}

Tensor Tensor::narrow0(int64_t begin, int64_t end) const {
  if (rank() == 0 || begin < 0 || end > shape_[0] || begin > end)
    throw ShapeError("narrow0: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") of " + shape_.str());
  Shape s = shape_;
  s[0] = end - begin;
  const int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  return slice_flat(begin * row, s);
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == device_) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

namespace {
// Element i of a CPU tensor of a floating dtype, as double.
double float_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[i];
    case DType::F64: return t.data<double>()[i];
    case DType::BF16: return bf16_to_float(static_cast<const uint16_t*>(t.raw())[i]);
    case DType::F16: return f16_to_float(static_cast<const uint16_t*>(t.raw())[i]);
    default: throw Error(std::string("to_dtype: ") + dtype_name(t.dtype()) + " is not a float type");
  }
}
void set_float(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::F32: t.data<float>()[i] = static_cast<float>(v); return;
    case DType::F64: t.data<double>()[i] = v; return;
    // Through float first, as a GPU would convert a float result (double -> float -> 16 bits
    // can differ from direct rounding only at exact ties of the float, never for f32 inputs).
    case DType::BF16: static_cast<uint16_t*>(t.raw())[i] = float_to_bf16(static_cast<float>(v)); return;
    case DType::F16: static_cast<uint16_t*>(t.raw())[i] = float_to_f16(static_cast<float>(v)); return;
    default: throw Error(std::string("to_dtype: ") + dtype_name(t.dtype()) + " is not a float type");
  }
}
bool is_floating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::BF16 || t == DType::F16; }
}  // namespace

Tensor Tensor::to_dtype(DType dtype) const {
  if (dtype == dtype_) return clone();
  if (!device_.is_cpu()) throw Error("to_dtype: only CPU tensors can be converted");
  if (!is_floating(dtype_) || !is_floating(dtype))
    throw Error(std::string("to_dtype: ") + dtype_name(dtype_) + " -> " + dtype_name(dtype) +
                " is not supported (floating types only)");
  Tensor t = empty(shape_, dtype);
  const int64_t n = numel();
  if (dtype_ == DType::F32 && dtype == DType::F64) {
    const float* s = data<float>();
    double* d = t.data<double>();
    for (int64_t i = 0; i < n; ++i) d[i] = s[i];
  } else if (dtype_ == DType::F64 && dtype == DType::F32) {
    const double* s = data<double>();
    float* d = t.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(s[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) set_float(t, i, float_at(*this, i));
  }
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  require_same_numel(shape_, src.shape_, "copy_from");
  if (src.dtype_ != dtype_)
    throw Error(std::string("copy_from: dtype ") + dtype_name(src.dtype_) + " into " +
                dtype_name(dtype_));
  copy_bytes(raw(), device_, src.raw(), src.device_, nbytes());
}

void Tensor::zero() {
  if (nbytes() == 0) return;
  if (device_.is_cpu()) {
    std::memset(raw(), 0, nbytes());
  } else if (g_device_zero) {
    g_device_zero(raw(), device_, nbytes());
  } else {
    std::vector<char> zeros(nbytes(), 0);
    copy_bytes(raw(), device_, zeros.data(), Device::cpu(), nbytes());
  }
}

void Tensor::fill(double value) {
  if (!device_.is_cpu()) {
    Tensor host = empty(shape_, dtype_);
    host.fill(value);
    copy_from(host);
    return;
  }
  const int64_t n = numel();
  switch (dtype_) {
    case DType::F32: { float* p = data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value); break; }
    case DType::F64: { double* p = data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = value; break; }
    case DType::I32: { int32_t* p = data<int32_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(value); break; }
    case DType::I64: { int64_t* p = data<int64_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(value); break; }
    case DType::U8: { uint8_t* p = data<uint8_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(value); break; }
    default: throw Error(std::string("fill: unsupported dtype ") + dtype_name(dtype_));
  }
}

std::vector<double> Tensor::to_f64_vector() const {
  const Tensor host = to(Device::cpu());
  const int64_t n = numel();
  std::vector<double> out(static_cast<size_t>(n));
  switch (dtype_) {
    case DType::F32: { const float* p = host.data<float>(); for (int64_t i = 0; i < n; ++i) out[i] = p[i]; break; }
    case DType::F64: { const double* p = host.data<double>(); for (int64_t i = 0; i < n; ++i) out[i] = p[i]; break; }
    case DType::I32: { const int32_t* p = host.data<int32_t>(); for (int64_t i = 0; i < n; ++i) out[i] = p[i]; break; }
    case DType::I64: { const int64_t* p = host.data<int64_t>(); for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]); break; }
    case DType::U8: { const uint8_t* p = host.data<uint8_t>(); for (int64_t i = 0; i < n; ++i) out[i] = p[i]; break; }
    case DType::BF16: { const auto* p = static_cast<const uint16_t*>(host.raw()); for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(p[i]); break; }
    case DType::F16: { const auto* p = static_cast<const uint16_t*>(host.raw()); for (int64_t i = 0; i < n; ++i) out[i] = f16_to_float(p[i]); break; }
    default: throw Error(std::string("to_f64_vector: unsupported dtype ") + dtype_name(dtype_));
  }
  return out;
}

std::vector<float> Tensor::to_vector() const {
  const std::vector<double> d = to_f64_vector();
  return std::vector<float>(d.begin(), d.end());
}

void set_device_copy(DeviceCopyFn fn) { g_device_copy = fn; }
void set_device_zero(DeviceZeroFn fn) { g_device_zero = fn; }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memmove(dst, src, bytes);
    return;
  }
  if (!g_device_copy)
    throw DeviceError("cannot copy between " + src_device.str() + " and " + dst_device.str() +
                      ": no CUDA backend is active");
  g_device_copy(dst, dst_device, src, src_device, bytes);
}

}  // namespace te
