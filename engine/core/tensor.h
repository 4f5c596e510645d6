#pragma once
// A dense, contiguous, row-major tensor: shape, dtype and device over shared storage.
// Copies of a Tensor share storage (like a shared_ptr); views (reshape, flat slices) share it
// too, which is how parameters live inside one flat buffer. clone() makes an owning copy.
#include <cstring>
#include <memory>
#include <vector>

#include "engine/core/allocator.h"
#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "engine/core/shape.h"

namespace te {

// A block of memory on one device, released through the allocator that made it.
class Storage {
 public:
  Storage(size_t bytes, Allocator& allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return allocator_.device(); }

 private:
  void* data_;
  size_t bytes_;
  Allocator& allocator_;
};

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised memory (use only when every element is written before it is read).
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // Uninitialised memory from a specific allocator (e.g. pinned host memory); the tensor's
  // device is the allocator's.
  static Tensor empty_with(const Shape& shape, DType dtype, Allocator& allocator);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // A CPU tensor holding `values` (converted to `dtype`); sizes must match.
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            DType dtype = DType::F32);
  static Tensor from_vector_f64(const Shape& shape, const std::vector<double>& values);

  bool defined() const { return storage_ != nullptr || shape_.rank() > 0; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.dim(i); }
  size_t rank() const { return shape_.rank(); }
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Typed pointer to the first element; throws if T does not match dtype().
  template <typename T>
  T* data() const {
    if (dtype_of<T>::value != dtype_)
      throw Error(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " +
                  dtype_name(dtype_of<T>::value));
    return static_cast<T*>(raw());
  }
  void* raw() const {
    return storage_ ? static_cast<char*>(storage_->data()) + offset_bytes_ : nullptr;
  }

  // Same storage, another shape with the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // A view of `shape.numel()` elements starting at element `offset` of this tensor's storage.
  Tensor slice_flat(int64_t offset, const Shape& shape) const;
  // A view of rows [begin, end) along dimension 0.
  Tensor narrow0(int64_t begin, int64_t end) const;

  Tensor clone() const;
  Tensor to(Device device) const;
  // Element-wise conversion; only between F32 and F64 on the CPU for now.
  Tensor to_dtype(DType dtype) const;
  // Copies `src` (same numel and dtype, any device) into this tensor's memory.
  void copy_from(const Tensor& src);
  void zero();
  // Sets every element (float types only on the CPU).
  void fill(double value);

  // All elements as doubles / floats, copied to the host. For tests and logging.
  std::vector<double> to_f64_vector() const;
  std::vector<float> to_vector() const;

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_;
};

// Copies bytes between devices. The CUDA backend installs the function for device memory.
using DeviceCopyFn = void (*)(void* dst, Device dst_device, const void* src, Device src_device,
                              size_t bytes);
void set_device_copy(DeviceCopyFn fn);
// Zeroes device memory in place (a memset on the device; without it zero() uploads zeros).
using DeviceZeroFn = void (*)(void* dst, Device device, size_t bytes);
void set_device_zero(DeviceZeroFn fn);
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace te
