#include "engine/cli/device_select.h"

#include <spdlog/spdlog.h>

#include "engine/core/error.h"
#include "engine/graph/graph.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "engine/optim/optimizer.h"
#ifdef TE_WITH_CUDA
#include "kernels/cuda/context.h"
#include "kernels/cuda/system_info.h"
#endif

namespace te::cli {
namespace {

// One forward, loss, backward and optimizer step of `model` on `device` with two random images.
void probe_model(const YAML::Node& model, Device device) {
  YAML::Node m = YAML::Clone(model);
  // A preset needs a class count (the trainer takes it from the data, not read yet); a layer
  // list has its own in its last layer.
  if (!m["num_classes"] && !m["layers"]) m["num_classes"] = 2;
  if (!m["in_channels"]) m["in_channels"] = 3;
  const int64_t c = m["in_channels"].as<int64_t>();
  GraphOptions options;
  options.device = device;
  auto graph = Graph::build(m, "<device probe>", Shape{c, 32, 32}, options);
  graph->to(device);
  std::vector<float> pixels(static_cast<size_t>(2 * c * 32 * 32));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 37) % 101) / 101.0f - 0.5f;
  const Tensor input = Tensor::from_vector(Shape{2, c, 32, 32}, pixels).to(device);
  const Tensor labels = Tensor::from_vector(Shape{2}, {0, 1}, DType::I32).to(device);
  RunContext ctx;
  const Tensor& logits = graph->forward(input, ctx);
  SoftmaxCrossEntropy loss;
  loss.forward(logits, labels);
  Tensor grad = Tensor::empty(logits.shape(), logits.dtype(), device);
  loss.backward(grad);
  graph->zero_grad();
  graph->backward(grad, ctx);
  auto opt = make_optimizer(OptimizerConfig{}, graph->num_parameters(), device);
  opt->step(graph->parameters(), graph->gradients(), 0.01);
}

// Throws DeviceError saying why CUDA device `index` cannot be used.
Device open_cuda(int index, const YAML::Node& model) {
  if (!built_with_cuda())
    throw DeviceError("this trainer was built without the CUDA backend (configure with "
                      "-DTE_CUDA=ON on a machine with the CUDA toolkit and cuDNN 9)");
#ifdef TE_WITH_CUDA
  std::string why;
  if (!te::cuda::gpu_usable(&why)) throw DeviceError("no usable GPU: " + why);
  te::cuda::initialize(index);
  const std::string cudnn_check = te::cuda::stack_versions().cudnn_check;
  if (!cudnn_check.empty()) spdlog::warn("{}", cudnn_check);
#endif
  const Device device = Device::cuda(index);
  if (model.IsDefined() && model.IsMap()) {
    try {
      probe_model(model, device);
    } catch (const DeviceError& e) {
      throw DeviceError(std::string("the GPU cannot run this model in this build: ") + e.what());
    }
  }
  return device;
}

}  // namespace

Device select_device(const std::string& request, const YAML::Node& model) {
  if (request == "cpu") return Device::cpu();
  if (request == "auto") {
    try {
      const Device d = open_cuda(0, model);
      spdlog::info("device: {} (auto)", d.str());
      return d;
    } catch (const DeviceError& e) {
      spdlog::info("device: cpu (auto: no GPU is usable: {})", e.what());
      return Device::cpu();
    }
  }
  Device wanted;
  try {
    wanted = Device::parse(request);
  } catch (const Error& e) {
    throw ConfigError(std::string("--device: ") + e.what() + " or auto");
  }
  if (wanted.is_cpu()) return wanted;
  try {
    return open_cuda(wanted.index, model);
  } catch (const DeviceError& e) {
    throw DeviceError("--device " + request + ": " + e.what() + "; use --device cpu or auto");
  }
}

void configure_gpu_numerics(Device device, bool deterministic, bool allow_tf32) {
  if (!device.is_cuda()) return;
#ifdef TE_WITH_CUDA
  te::cuda::set_deterministic(deterministic);
  te::cuda::set_allow_tf32(allow_tf32);
  spdlog::info("gpu numerics: deterministic={} tf32={}", deterministic, allow_tf32);
#endif
}

}  // namespace te::cli
