#pragma once
// Tells AddressSanitizer about the emulation's stack switches (fibers), as its documentation
// asks of coroutine libraries: without it, ASan takes a fiber's stack for a corrupted one and
// reports false stack errors. Compiles to nothing without ASan.
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define TE_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TE_EMU_ASAN 1
#endif
#endif

#ifdef TE_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace te::emu {

// One per block run: the scheduler's stack, and the fake stack of whichever side is switched
// away from.
class FiberSwitch {
 public:
#ifdef TE_EMU_ASAN
  // Scheduler -> fiber whose stack is [bottom, bottom + size).
  void enter_fiber_from_scheduler(const void* bottom, size_t size) {
    __sanitizer_start_switch_fiber(&scheduler_fake_stack_, bottom, size);
  }
  // First thing a fiber does when it runs again: `fake_stack` is what it saved when it left.
  void enter_fiber(void* fake_stack) {
    __sanitizer_finish_switch_fiber(fake_stack, &scheduler_bottom_, &scheduler_size_);
  }
  // Fiber -> scheduler: the fiber's fake stack goes to *save; an exiting fiber's is released.
  void leave_fiber(void** save, bool exiting) {
    __sanitizer_start_switch_fiber(exiting ? nullptr : save, scheduler_bottom_, scheduler_size_);
  }
  void back_in_scheduler() { __sanitizer_finish_switch_fiber(scheduler_fake_stack_, nullptr, nullptr); }
#else
  void enter_fiber_from_scheduler(const void*, size_t) {}
  void enter_fiber(void*) {}
  void leave_fiber(void**, bool) {}
  void back_in_scheduler() {}
#endif

 private:
#ifdef TE_EMU_ASAN
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_bottom_ = nullptr;
  size_t scheduler_size_ = 0;
#endif
};

// A stack that fibers used (and perhaps abandoned mid-frame) is clean again for ASan.
inline void forget_stack_frames(void* base, size_t size) {
#ifdef TE_EMU_ASAN
  ASAN_UNPOISON_MEMORY_REGION(base, size);
#else
  (void)base;
  (void)size;
#endif
}

}  // namespace te::emu
