#pragma once
// Where a tensor's memory lives. Operations dispatch on this, not on a global switch.
#include <string>

namespace te {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

  // Parses "cpu", "cuda" or "cuda:N"; throws te::Error with the accepted forms otherwise.
  static Device parse(const std::string& text);
};

// True when this build has the CUDA backend compiled in (it may still find no usable GPU).
bool built_with_cuda();

}  // namespace te
