#pragma once
// A loader batch's array copied to CUDA device memory, exported through DLPack with the
// protocol's stream handshake: the copy runs on the backend's copy stream and records an event;
// __dlpack__(stream=s) makes the consumer's stream s wait on that event (no host sync).
#include <nanobind/nanobind.h>

#include <memory>
#include <string>
#include <utility>

#include "engine/core/tensor.h"

namespace te::py {

namespace nb = nanobind;

struct DeviceUpload;  // the device copy, its pinned source and the event recorded after it

class DeviceArray {
 public:
  // Copies `host` to CUDA device `device_id` asynchronously (the backend's copy stream).
  static DeviceArray upload(const Tensor& host, int device_id);

  // The DLPack protocol (array API): stream None/1 legacy default stream, 2 per-thread
  // default stream, -1 no synchronisation, other integers a cudaStream_t; 0 is refused.
  nb::object dlpack(nb::handle stream, nb::handle max_version, nb::handle dl_device, nb::handle copy) const;
  std::pair<int, int> dlpack_device() const;

  const Tensor& tensor() const;
  uintptr_t data_ptr() const;

 private:
  std::shared_ptr<DeviceUpload> upload_;
};

// "cuda" / "cuda:N" -> N, with the backend initialised for it. Raises RuntimeError naming the
// reason when device memory cannot be used (built without CUDA, no usable GPU).
int open_cuda_device(const std::string& device);

void register_device_array(nb::module_& m);

}  // namespace te::py
