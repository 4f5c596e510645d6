#include "engine/cli/commands.h"

#include <functional>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace te::cli {
namespace {
// (subcommand, runner) pairs registered below; one line per command.
std::vector<std::pair<CLI::App*, std::function<int()>>>& runners() {
  static std::vector<std::pair<CLI::App*, std::function<int()>>> r;
  return r;
}
}  // namespace

void register_commands(CLI::App& app) {
  (void)app;
  // register_info(app, runners()); ... one line per command file.
}

int run_selected(CLI::App& app) {
  for (auto& [cmd, run] : runners())
    if (cmd->parsed()) return run();
  std::cout << app.help();
  return 0;
}

}  // namespace te::cli
