#pragma once
// Each subcommand registers its options on the app and runs when selected.
#include <CLI/CLI.hpp>

namespace te::cli {

// Adds every subcommand (and the top-level training options) to `app`.
void register_commands(CLI::App& app);
// Runs whichever subcommand the parsed command line selected; returns the exit code.
int run_selected(CLI::App& app);

}  // namespace te::cli
