// The `trainer` command line. Subcommands live in their own files (cmd_*.cpp); this file only
// parses the command line and maps exceptions to messages and exit codes.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "engine/cli/commands.h"
#include "engine/core/error.h"
#include "engine/train/interrupt.h"

int main(int argc, char** argv) {
  CLI::App app{"trainer: a GPU-accelerated image-classifier training engine (CPU fallback)"};
  app.set_version_flag("--version", std::string("trainer ") + TE_VERSION);
  app.require_subcommand(0, 1);
  te::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return te::cli::run_selected(app);
  } catch (const te::Interrupted& e) {  // a checkpoint was written; 130 (SIGINT) / 143 (SIGTERM)
    std::cerr << "interrupted: " << e.what() << "\n";
    return e.exit_code();
  } catch (const te::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 2;
  } catch (const te::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 1;
  }
}
