#pragma once
// The emulation's stack switch. On x86-64 a few instructions that save the callee-saved
// registers and swap stack pointers (glibc's swapcontext also saves the signal mask with a
// system call, which made it the emulation's main cost); elsewhere ucontext.
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace te::emu {

struct FiberContext {
#if defined(__x86_64__)
  void* sp = nullptr;  // the saved stack pointer (registers are pushed below it)
#else
  ucontext_t uc;
#endif
};

// Prepares `fiber` to start `entry` (which must never return) on [bottom, bottom + size).
void make_fiber(FiberContext& fiber, char* bottom, size_t size, void (*entry)());
// Saves the running context in `from` and continues `to`.
void switch_fiber(FiberContext& from, FiberContext& to);

}  // namespace te::emu
