#include "kernels/cuda/emu/fiber_switch.h"

#include <cstdint>

#if defined(__x86_64__)
// te_emu_swap_stacks(void** save_sp, void* next_sp): pushes the System V callee-saved
// registers, saves the stack pointer, loads the other one and pops its registers; `ret` then
// continues where that context last called te_emu_swap_stacks (or at its entry point).
extern "C" void te_emu_swap_stacks(void** save_sp, void* next_sp);
asm(R"(
  .pushsection .text
  .globl te_emu_swap_stacks
  .type te_emu_swap_stacks, @function
te_emu_swap_stacks:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size te_emu_swap_stacks, .-te_emu_swap_stacks
  .popsection
)");
#endif

namespace te::emu {

#if defined(__x86_64__)
void make_fiber(FiberContext& fiber, char* bottom, size_t size, void (*entry)()) {
  auto top = reinterpret_cast<uintptr_t>(bottom + size) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top);
  *--slot = nullptr;                             // entry's return address: it never returns
  *--slot = reinterpret_cast<void*>(entry);      // where the first `ret` goes (16-aligned slot,
                                                 // so entry starts as if called)
  for (int i = 0; i < 6; ++i) *--slot = nullptr; // rbp, rbx, r12-r15
  fiber.sp = slot;
}

void switch_fiber(FiberContext& from, FiberContext& to) { te_emu_swap_stacks(&from.sp, to.sp); }
#else
void make_fiber(FiberContext& fiber, char* bottom, size_t size, void (*entry)()) {
  getcontext(&fiber.uc);
  fiber.uc.uc_stack.ss_sp = bottom;
  fiber.uc.uc_stack.ss_size = size;
  fiber.uc.uc_link = nullptr;
  makecontext(&fiber.uc, entry, 0);
}

void switch_fiber(FiberContext& from, FiberContext& to) { swapcontext(&from.uc, &to.uc); }
#endif

}  // namespace te::emu
