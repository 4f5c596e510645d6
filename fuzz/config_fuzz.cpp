// The run config: YAML text (first part) plus `--set` overrides (second part, one per line),
// the model section and layer lists included. A config that loads must also load again from
// its resolved form, as `trainer --resume` reads it.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "engine/config/run_config.h"
#include "engine/core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  te::fuzz::quiet_logs();
  const std::vector<std::string> parts = te::fuzz::split_input(data, size, 2);
  std::vector<std::string> overrides;
  std::istringstream lines(parts[1]);
  for (std::string line; std::getline(lines, line) && overrides.size() < 8;)
    if (!line.empty()) overrides.push_back(line);
  std::string resolved;
  try {
    resolved = te::parse_run_config(parts[0], "fuzz.yaml", overrides).resolved_yaml();
  } catch (const te::Error&) {
    return 0;  // a clear refusal is the expected outcome for most inputs
  }
  try {
    te::parse_run_config(resolved, "config.resolved.yaml");
  } catch (const te::Error& e) {
    std::fprintf(stderr, "a resolved config does not load again: %s\n---\n%s---\n", e.what(),
                 resolved.c_str());
    std::abort();
  }
  return 0;
}
