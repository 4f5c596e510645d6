#pragma once
// Test hooks of write_file_atomic, read once from the environment, so the durability tests can
// fail or stall a write in the real binary:
//   TE_TEST_WRITE_FAIL=SUBSTRING[:N]  the N-th (default first) atomic write whose path contains
//                                     SUBSTRING fails like a full disk (ENOSPC) after half of
//                                     its bytes reached the temporary file;
//   TE_TEST_WRITE_PAUSE_MS=MS         every atomic write sleeps MS milliseconds between the
//                                     complete temporary file and the rename (kill -9 trials).
// Unset, both cost one branch per write.
#include <string>

namespace te {

// ENOSPC when this write of `path` is the one to fail, else 0.
int injected_write_error(const std::string& path);
void pause_before_rename();

}  // namespace te
