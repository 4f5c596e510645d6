#pragma once
// Creates the cuDNN, cuBLAS and cuBLASLt handles of the context, bound to its compute stream.
// Separate from context.cpp because the SIMT emulation build (kernels/cuda/emu) has no cuDNN
// or cuBLAS: it links its own version, which leaves the handles null.
namespace te::cuda {
struct Context;
void create_library_handles(Context& ctx);
}  // namespace te::cuda
