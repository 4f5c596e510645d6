#pragma once
// Is the cuDNN library loaded at run time fit for the headers this binary was compiled with?
// cuDNN keeps its API within a major version, but does not promise that a program built
// against a newer minor release runs on an older one (a build made with 9.19 headers meeting
// 9.14 on the GPU host, say). No cuDNN in here: tests/emu/cudnn_version_test.cpp checks it.
#include <cstddef>
#include <string>

namespace te::cuda {

// cuDNN 9's encoding: major * 10000 + minor * 100 + patch (91400 = 9.14.0).
inline std::string cudnn_version_string(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." +
         std::to_string(v % 100);
}

struct CudnnVersionVerdict {
  bool usable = true;
  std::string message;  // empty when the versions fit; a warning when usable, else the error
};

inline CudnnVersionVerdict check_cudnn_version(size_t loaded, size_t built) {
  CudnnVersionVerdict v;
  const std::string l = cudnn_version_string(loaded), b = cudnn_version_string(built);
  if (loaded / 10000 != built / 10000) {
    v.usable = false;
    v.message = "cuDNN " + l + " is loaded, but this trainer was built against cuDNN " + b +
                ": another major version is not compatible. Install cuDNN " +
                std::to_string(built / 10000) + " or rebuild the trainer on this machine";
  } else if (loaded / 100 < built / 100) {
    v.message = "cuDNN " + l + " is loaded, older than the cuDNN " + b +
                " headers this trainer was built with; cuDNN does not promise that works. "
                "Rebuild the trainer on this machine (scripts/quickstart.sh builds it)";
  }
  return v;
}

}  // namespace te::cuda
