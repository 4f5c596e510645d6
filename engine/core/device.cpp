#include "engine/core/device.h"

#include <cstdlib>

#include "engine/core/error.h"

namespace te {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    const std::string idx = text.substr(5);
    char* end = nullptr;
    const long i = std::strtol(idx.c_str(), &end, 10);
    if (end && *end == '\0' && i >= 0) return cuda(static_cast<int>(i));
  }
  throw Error("unknown device '" + text + "': expected cpu, cuda or cuda:N");
}

bool built_with_cuda() {
#ifdef TE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace te
