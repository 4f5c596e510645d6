// trainer_engine.DeviceArray (device_array.h). Without the CUDA backend only
// open_cuda_device exists, and it says why device memory is unavailable.
#include "bindings/src/device_array.h"

#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <stdexcept>
#include <vector>

#include "bindings/src/arrays.h"
#include "bindings/src/dlpack_capsule.h"

#ifdef TE_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#endif

namespace te::py {

int open_cuda_device(const std::string& device) {
  int id = 0;
  if (device != "cuda") {
    if (device.rfind("cuda:", 0) != 0 || device.size() == 5 ||
        device.find_first_not_of("0123456789", 5) != std::string::npos)
      throw nb::value_error(("device must be None, 'cpu', 'cuda' or 'cuda:N', got '" + device + "'").c_str());
    id = std::stoi(device.substr(5));
  }
#ifdef TE_WITH_CUDA
  std::string why;
  if (!te::cuda::gpu_usable(&why))
    throw std::runtime_error("device='" + device + "': no usable GPU (" + why + ")");
  te::cuda::initialize(id);  // DeviceError (a RuntimeError) for a missing or second device
  return id;
#else
  throw std::runtime_error("device='" + device + "': this build has no CUDA backend (nvcc was not found)");
#endif
}

#ifdef TE_WITH_CUDA

struct DeviceUpload {
  Tensor host, device;  // the host side stays alive until the copy has completed
  cudaEvent_t copied = nullptr;
  ~DeviceUpload() {
    if (!copied) return;
    cudaEventSynchronize(copied);  // destructor: errors have nowhere to go
    cudaEventDestroy(copied);
  }
};

namespace {

// What a capsule's manager_ctx owns: a reference to the upload, so the device memory outlives
// the DeviceArray for as long as the consumer holds the tensor.
struct Export {
  std::shared_ptr<DeviceUpload> upload;
  std::vector<int64_t> shape;
  DLManagedTensorVersioned versioned{};
  DLManagedTensor legacy{};
  // The stream the consumer named (none with stream=-1: it orders its own work).
  bool consumer_known = false;
  cudaStream_t consumer = nullptr;
};

// The capsule's deleter: the consumer is done with the tensor, but work it queued on its
// stream may still read it. Before the memory can go back to the caching allocator (which
// orders reuse on the compute stream), the compute stream waits for that work; later batch
// uploads wait for the compute stream (DeviceArray::upload). Errors have nowhere to go here.
void release(Export* e) {
  if (e->consumer_known && te::cuda::initialized()) {
    cudaEvent_t done = nullptr;
    if (cudaEventCreateWithFlags(&done, cudaEventDisableTiming) == cudaSuccess) {
      if (cudaEventRecord(done, e->consumer) == cudaSuccess)
        cudaStreamWaitEvent(static_cast<cudaStream_t>(te::cuda::context().compute), done, 0);
      cudaEventDestroy(done);  // released once the stream has passed it
    }
    cudaGetLastError();
  }
  delete e;
}

nb::dlpack::dltensor describe(Export& e) {
  const Tensor& t = e.upload->device;
  for (size_t i = 0; i < t.rank(); ++i) e.shape.push_back(t.dim(static_cast<int>(i)));
  nb::dlpack::dltensor d{};
  d.data = t.raw();
  d.device = {nb::device::cuda::value, t.device().index};
  d.ndim = static_cast<int32_t>(t.rank());
  d.dtype = numpy_dtype(t.dtype());
  d.shape = e.shape.data();
  d.strides = nullptr;  // compact row-major
  return d;
}

// The consumer's stream for a stream argument, per the array API's CUDA rules.
cudaStream_t consumer_stream(nb::handle stream) {
  if (stream.is_none()) return cudaStreamLegacy;
  const int64_t s = nb::cast<int64_t>(stream);
  if (s == 0) throw nb::value_error("__dlpack__: stream=0 is ambiguous for CUDA; use 1 (legacy default) or 2 (per-thread default)");
  if (s == 1) return cudaStreamLegacy;
  if (s == 2) return cudaStreamPerThread;
  if (s < 0) throw nb::value_error("__dlpack__: stream must be -1 (no synchronisation) or a CUDA stream");
  return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(s));
}

bool wants_versioned(nb::handle max_version) {
  if (max_version.is_none()) return false;  // a consumer that predates DLPack 1.0
  return nb::cast<int64_t>(max_version[0]) >= 1;
}

}  // namespace

DeviceArray DeviceArray::upload(const Tensor& host, int device_id) {
  auto u = std::make_shared<DeviceUpload>();
  u->host = host;
  u->device = Tensor::empty(host.shape(), host.dtype(), Device::cuda(device_id));
  auto& ctx = te::cuda::context();
  TE_CUDA_CHECK(cudaEventCreateWithFlags(&u->copied, cudaEventDisableTiming));
  // The new block may be one a released batch occupied: the allocator ordered its reuse on the
  // compute stream (after the consumer's work, see release()), so the copy stream waits for the
  // compute stream before writing it.
  TE_CUDA_CHECK(cudaEventRecord(u->copied, ctx.compute));
  TE_CUDA_CHECK(cudaStreamWaitEvent(ctx.copy, u->copied, 0));
  TE_CUDA_CHECK(cudaMemcpyAsync(u->device.raw(), host.raw(), host.nbytes(), cudaMemcpyHostToDevice, ctx.copy));
  TE_CUDA_CHECK(cudaEventRecord(u->copied, ctx.copy));
  DeviceArray a;
  a.upload_ = std::move(u);
  return a;
}

const Tensor& DeviceArray::tensor() const { return upload_->device; }
uintptr_t DeviceArray::data_ptr() const { return reinterpret_cast<uintptr_t>(upload_->device.raw()); }

std::pair<int, int> DeviceArray::dlpack_device() const {
  return {static_cast<int>(nb::device::cuda::value), upload_->device.device().index};
}

nb::object DeviceArray::dlpack(nb::handle stream, nb::handle max_version, nb::handle dl_device,
                               nb::handle copy) const {
  if (!copy.is_none() && nb::cast<bool>(copy))
    throw nb::buffer_error("__dlpack__: copy=True is not supported; the batch is already a copy");
  if (!dl_device.is_none() && nb::cast<std::pair<int, int>>(dl_device) != dlpack_device())
    throw nb::buffer_error("__dlpack__: the batch lives on another device than dl_device");
  const bool sync = !(!stream.is_none() && nb::cast<int64_t>(stream) == -1);
  if (sync) TE_CUDA_CHECK(cudaStreamWaitEvent(consumer_stream(stream), upload_->copied, 0));

  auto* e = new Export{upload_};
  if (sync) {
    e->consumer_known = true;
    e->consumer = consumer_stream(stream);
  }
  const nb::dlpack::dltensor d = describe(*e);
  if (wants_versioned(max_version)) {
    e->versioned = {kDLPackVersion, e, [](DLManagedTensorVersioned* m) { release(static_cast<Export*>(m->manager_ctx)); },
                    0, d};
    return make_dlpack_capsule(&e->versioned);
  }
  e->legacy = {d, e, [](DLManagedTensor* m) { release(static_cast<Export*>(m->manager_ctx)); }};
  return make_dlpack_capsule(&e->legacy);
}

void register_device_array(nb::module_& m) {
  nb::class_<DeviceArray>(m, "DeviceArray",
                          "A batch array in CUDA device memory; take it with torch.from_dlpack (DLPack, "
                          "the consumer's stream waits for the upload).")
      .def("__dlpack__", &DeviceArray::dlpack, nb::kw_only(), nb::arg("stream").none() = nb::none(),
           nb::arg("max_version").none() = nb::none(), nb::arg("dl_device").none() = nb::none(),
           nb::arg("copy").none() = nb::none(),
           nb::sig("def __dlpack__(self, *, stream: int | None = None, max_version: tuple[int, int] | None = None, "
                   "dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> typing.Any"))
      .def("__dlpack_device__", &DeviceArray::dlpack_device)
      .def_prop_ro("shape", [](const DeviceArray& a) {
        nb::list s;
        for (size_t i = 0; i < a.tensor().rank(); ++i) s.append(a.tensor().dim(static_cast<int>(i)));
        return nb::tuple(s);
      })
      .def_prop_ro("dtype", [](const DeviceArray& a) { return std::string(dtype_name(a.tensor().dtype())); })
      .def_prop_ro("data_ptr", &DeviceArray::data_ptr, "the device address (what the DLPack tensor points at)");
}

#else

// Unreachable without the CUDA backend (open_cuda_device refuses first), and defined so that
// the module links and imports in such builds.
DeviceArray DeviceArray::upload(const Tensor&, int) {
  throw std::runtime_error("device memory needs the CUDA backend, which this build lacks");
}

void register_device_array(nb::module_&) {}

#endif

}  // namespace te::py
