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

void register_pack(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_train(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_eval(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_predict(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_info(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_doctor(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);
void register_export(CLI::App&, std::vector<std::pair<CLI::App*, std::function<int()>>>&);

void register_commands(CLI::App& app) {
  register_pack(app, runners());
  register_train(app, runners());  // top-level: `trainer --config FILE` / `--resume DIR`
  register_eval(app, runners());
  register_predict(app, runners());
  register_info(app, runners());
  register_doctor(app, runners());
  register_export(app, runners());
  // ... one line per command file.
}

int run_selected(CLI::App& app) {
  for (auto& [cmd, run] : runners())
    if (cmd != &app && cmd->parsed()) return run();
  // No subcommand: the top-level command (training) registered on the app itself.
  for (auto& [cmd, run] : runners())
    if (cmd == &app) return run();
  std::cout << app.help();
  return 0;
}

}  // namespace te::cli
