#pragma once
// Shared pieces of the training tests: a tiny generated image set (JPEG class folders), run
// configs over it, and running the built `trainer` binary.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace te::testing {

// Writes root/{train,val}/{blue,green,red}/NNN.jpg: size x size RGB images whose dominant
// colour is the class, with random texture (so the classes are learnable but not constant).
void make_color_dataset(const std::string& root, int train_per_class, int val_per_class,
                        int size, uint64_t seed);
// One such image of class `cls` (0 blue, 1 green, 2 red) at `path`.
void write_color_image(const std::string& path, int cls, int size, uint64_t seed, int64_t index);

// A run config over the generated set: a small conv net with batch norm and dropout,
// `extra` appended (YAML text that may add sections).
std::string tiny_config(const std::string& data_root, const std::string& extra = "");

// A fresh empty directory under the test temp dir.
std::string fresh_dir(const std::string& name);
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

// The built trainer binary.
std::string trainer_binary();

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string output;  // stdout and stderr together
};
// Runs argv (argv[0] a path), waits, captures output.
CommandResult run_command(const std::vector<std::string>& argv);
// Starts argv with output to `log_path`; returns the pid.
pid_t spawn_command(const std::vector<std::string>& argv, const std::string& log_path);
// Waits for `pid`; the exit code, or 128 + signal.
int wait_exit_code(pid_t pid);

// A Python that can import `module`: TE_PYTHON, python3 or /usr/bin/python3; "" if none.
std::string python_with(const std::string& module);

}  // namespace te::testing
