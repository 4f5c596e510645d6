#pragma once
// Launches a one-thread kernel on `device` and reads its result back: finds out whether this
// binary has code for the GPU's architecture and whether the driver can run it at all.
#include <string>

namespace te::cuda {
// Empty when the launch worked; otherwise why it did not.
std::string probe_kernel_launch(int device);
}  // namespace te::cuda
