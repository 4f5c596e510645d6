#include "engine/distributed/launch_env.h"

#include <cstdlib>
#include <optional>

#include "engine/core/error.h"

namespace te {
namespace {

struct Names {
  const char* launcher;
  const char *rank, *size, *local_rank, *local_size;  // local_size may be nullptr
};

constexpr Names kLaunchers[] = {
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr},
};

std::optional<int> read_int(const std::function<const char*(const char*)>& getenv, const char* name,
                            const char* launcher) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0' || v < 0 || v > 1'000'000)
    throw ConfigError(std::string("environment variable ") + name + "='" + text +
                      "' (set by the " + launcher + " launcher) is not a non-negative integer");
  return static_cast<int>(v);
}

}  // namespace

std::string LaunchInfo::describe() const {
  if (launcher == "none") return "a single process (no launcher variables set)";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + launcher +
         ", local rank " + std::to_string(local_rank) + " of " + std::to_string(local_size) + ")";
}

LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv) {
  LaunchInfo info;
  for (const Names& n : kLaunchers) {
    const auto rank = read_int(getenv, n.rank, n.launcher);
    const auto size = read_int(getenv, n.size, n.launcher);
    if (!rank && !size) continue;
    if (!rank || !size)
      throw ConfigError(std::string("launcher variables incomplete: ") + (rank ? n.rank : n.size) +
                        " is set but " + (rank ? n.size : n.rank) + " is not; the " + n.launcher +
                        " launcher sets both (set both, or unset both to run one process)");
    if (*size < 1 || *rank >= *size)
      throw ConfigError(std::string("launcher variables disagree: ") + n.rank + "=" +
                        std::to_string(*rank) + " but " + n.size + "=" + std::to_string(*size) +
                        " (the rank must be below the world size)");
    info.launcher = n.launcher;
    info.rank = *rank;
    info.world_size = *size;
    // Without a local rank every process is taken to be alone on its node.
    info.local_rank = read_int(getenv, n.local_rank, n.launcher).value_or(0);
    info.local_size = n.local_size ? read_int(getenv, n.local_size, n.launcher).value_or(0) : 0;
    if (info.local_size == 0) info.local_size = info.local_rank + 1;  // unknown: at least this
    if (info.local_rank >= info.local_size)
      throw ConfigError(std::string("launcher variables disagree: ") + n.local_rank + "=" +
                        std::to_string(info.local_rank) + " is not below the local size " +
                        std::to_string(info.local_size));
    if (info.launcher == "torchrun") {
      if (const char* addr = getenv("MASTER_ADDR")) info.master_addr = addr;
      info.master_port = read_int(getenv, "MASTER_PORT", n.launcher).value_or(0);
      if (info.master_port > 65535)
        throw ConfigError("environment variable MASTER_PORT=" + std::to_string(info.master_port) +
                          " is not a TCP port (1-65535)");
    }
    return info;
  }
  return info;
}

LaunchInfo detect_launch_from_environment() {
  return detect_launch([](const char* name) { return std::getenv(name); });
}

}  // namespace te
