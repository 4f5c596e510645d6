#include "engine/io/write_faults.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace te {
namespace {

struct Faults {
  std::string fail_substring;
  long fail_nth = 1;
  long pause_ms = 0;
  std::mutex mutex;
  long matched = 0;

  Faults() {
    if (const char* v = std::getenv("TE_TEST_WRITE_FAIL"); v && *v) {
      fail_substring = v;
      const size_t colon = fail_substring.rfind(':');
      if (colon != std::string::npos) {
        fail_nth = std::atol(fail_substring.c_str() + colon + 1);
        fail_substring.resize(colon);
      }
    }
    if (const char* v = std::getenv("TE_TEST_WRITE_PAUSE_MS")) pause_ms = std::atol(v);
  }
};

Faults& faults() {
  static Faults f;
  return f;
}

}  // namespace

int injected_write_error(const std::string& path) {
  Faults& f = faults();
  if (f.fail_substring.empty() || path.find(f.fail_substring) == std::string::npos) return 0;
  std::lock_guard<std::mutex> lock(f.mutex);
  return ++f.matched == f.fail_nth ? ENOSPC : 0;
}

void pause_before_rename() {
  const long ms = faults().pause_ms;
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace te
