#include "train_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/philox.h"
#include "engine/data/jpeg_encode.h"

extern char** environ;

namespace te::testing {
namespace fs = std::filesystem;

void write_color_image(const std::string& path, int cls, int size, uint64_t seed, int64_t index) {
  CounterRng rng(seed, static_cast<uint64_t>(cls), static_cast<uint64_t>(index));
  std::vector<uint8_t> pixels(static_cast<size_t>(size * size * 3));
  const int stripe = 1 + static_cast<int>(rng.below(4));
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        // RGB order, class 0 = blue (channel 2), 1 = green, 2 = red (channel 0).
        const bool dominant = c == 2 - cls;
        const int texture = ((x / stripe + y) % 2) * 30;
        const int base = dominant ? 150 + static_cast<int>(rng.below(80)) : static_cast<int>(rng.below(110));
        pixels[static_cast<size_t>((y * size + x) * 3 + c)] = static_cast<uint8_t>(std::min(255, base + texture));
      }
  const std::vector<uint8_t> jpeg = encode_jpeg(pixels.data(), size, size, 3);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpeg.data()),
                                              static_cast<std::streamsize>(jpeg.size()));
}

void make_color_dataset(const std::string& root, int train_per_class, int val_per_class, int size,
                        uint64_t seed) {
  const char* names[3] = {"blue", "green", "red"};
  for (int split = 0; split < 2; ++split) {
    const int count = split == 0 ? train_per_class : val_per_class;
    for (int cls = 0; cls < 3; ++cls) {
      const std::string dir = root + (split == 0 ? "/train/" : "/val/") + names[cls];
      fs::create_directories(dir);
      for (int i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/%03d.jpg", i);
        write_color_image(dir + name, cls, size, seed + static_cast<uint64_t>(split) * 1000, i);
      }
    }
  }
}

std::string tiny_config(const std::string& data_root, const std::string& extra) {
  return "model:\n"
         "  layers:\n"
         "    - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}\n"
         "    - {name: bn1, type: batchnorm2d}\n"
         "    - {name: relu1, type: relu}\n"
         "    - {name: pool, type: global_avg_pool}\n"
         "    - {name: flatten, type: flatten}\n"
         "    - {name: drop, type: dropout, p: 0.2}\n"
         "    - {name: fc, type: linear, out_features: 3}\n"
         "data:\n"
         "  train: " + data_root + "/train\n"
         "  val: " + data_root + "/val\n"
         "  image_size: 16\n"
         "  batch_size: 16\n"
         "  workers: 2\n"
         "  resize_ratio: 1.0\n"
         "  augment: {random_resized_crop: false, hflip: true}\n" +
         extra;
}

namespace {
// Removes every directory fresh_dir made when the test program ends (keep them for debugging
// with TE_KEEP_TEST_DIRS=1).
struct DirCleanup {
  std::vector<std::string> dirs;
  ~DirCleanup() {
    if (std::getenv("TE_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    for (const auto& d : dirs) fs::remove_all(d, ec);
  }
};
DirCleanup g_cleanup;
}  // namespace

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "te_train_" + name + "_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  g_cleanup.dirs.push_back(dir);
  return dir;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trainer_binary() { return std::string(TE_BINARY_DIR) + "/engine/cli/trainer"; }

pid_t spawn_command(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
  return rc == 0 ? pid : -1;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

CommandResult run_command(const std::vector<std::string>& argv) {
  const std::string log = ::testing::TempDir() + "te_cmd_" + std::to_string(getpid()) + ".log";
  CommandResult r;
  r.exit_code = wait_exit_code(spawn_command(argv, log));
  r.output = read_text(log);
  fs::remove(log);
  return r;
}

std::string python_with(const std::string& module) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TE_PYTHON"); env && *env) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");  // Debian's python3-torch lives there
  for (const auto& python : candidates) {
    const std::string cmd = python + " -c 'import " + module + "' > /dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return python;
  }
  return "";
}

}  // namespace te::testing
