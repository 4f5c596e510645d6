#pragma once
// The emulated runtime's error state (runtime.cpp): a failing call records its code for
// cudaGetLastError and the words cudaGetErrorString gives for it, and returns the code.
#include <cuda_runtime_api.h>

#include <string>

namespace te::emu {

cudaError_t fail(cudaError_t code, const std::string& detail);

}  // namespace te::emu
