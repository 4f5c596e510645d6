#include "dist_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/philox.h"

namespace te::testing {
namespace fs = std::filesystem;
namespace {

void put_be32(std::ofstream& f, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<const char*>(b), 4);
}

void write_split(const std::string& dir, const std::string& split, int n, uint64_t seed) {
  std::ofstream images(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary);
  std::ofstream labels(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary);
  put_be32(images, 0x803);
  put_be32(images, static_cast<uint32_t>(n));
  put_be32(images, 8);
  put_be32(images, 8);
  put_be32(labels, 0x801);
  put_be32(labels, static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int c = i % 3;
    CounterRng rng(seed, 0, static_cast<uint64_t>(i));
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        // Class 0: bright left half, 1: bright top half, 2: a checkerboard; plus noise.
        const bool bright = (c == 0 && x < 4) || (c == 1 && y < 4) || (c == 2 && (x + y) % 2 == 0);
        images.put(static_cast<char>(static_cast<int>(rng.below(80)) + (bright ? 150 : 0)));
      }
    labels.put(static_cast<char>(c));
  }
}

}  // namespace

void write_tiny_idx(const std::string& dir, int train, int test) {
  fs::create_directories(dir);
  write_split(dir, "train", train, 11);
  write_split(dir, "t10k", test, 12);
}

std::string tiny_idx_config(const std::string& data, bool bn, int64_t batch, const std::string& extra) {
  return std::string("model:\n  layers:\n") +
         "    - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}\n" +
         (bn ? "    - {name: bn1, type: batchnorm2d}\n" : "") +
         "    - {name: relu1, type: relu}\n"
         "    - {name: pool, type: global_avg_pool}\n"
         "    - {name: flatten, type: flatten}\n"
         "    - {name: fc, type: linear, out_features: 3}\n"
         "data:\n"
         "  train: " + data + "\n"
         "  val: " + data + "\n"
         "  image_size: 8\n"
         "  batch_size: " + std::to_string(batch) + "\n"
         "  eval_batch_size: 16\n"
         "  workers: 1\n"
         "  resize_ratio: 1.0\n"
         "  augment: {random_resized_crop: false, hflip: true}\n"
         "optim: {type: sgd, lr: 0.1, momentum: 0.9}\n"
         "logging: {every_steps: 2, progress: plain, tensorboard: false}\n" + extra;
}

std::string temp_dir(const std::string& name) {
  // Removed when this process exits (TE_KEEP_TEST_DIRS=1 keeps them for debugging).
  static std::vector<fs::path> made;
  static const bool registered = [] {
    std::atexit([] {
      if (std::getenv("TE_KEEP_TEST_DIRS")) return;
      std::error_code ec;
      for (const auto& p : made) fs::remove_all(p, ec);
    });
    return true;
  }();
  (void)registered;
  const fs::path p = fs::temp_directory_path() /
                     ("te_dist_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  made.push_back(p);
  return p.string();
}

void write_text_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

Ran run_shell(const std::string& command) {
  Ran r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string mpirun_prefix(int ranks) {
#ifdef TE_MPIEXEC
  std::string s = std::string(TE_MPIEXEC) + " --oversubscribe --bind-to none";
  if (::geteuid() == 0) s += " --allow-run-as-root";
  // Under AddressSanitizer (scripts/sanitize.sh): the ranks unwind allocation stacks the slow,
  // exact way. Open MPI's plugins keep allocations until exit by design and have no frame
  // pointers, so the fast unwinder stops inside them, often in one already unloaded, and the
  // report cannot be matched to scripts/lsan.supp; the exact stack reaches libopen-pal.
  if (const char* asan = std::getenv("ASAN_OPTIONS"))
    s += " -x ASAN_OPTIONS='" + std::string(asan) + ":fast_unwind_on_malloc=0'";
  return s + " -np " + std::to_string(ranks) + " ";
#else
  (void)ranks;
  return "";
#endif
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

std::string trainer_path() { return std::string(TE_BINARY_DIR) + "/engine/cli/trainer"; }

void expect_rank_tests_pass(const std::string& launcher, const std::string& suite, int tests) {
  const Ran r = run_shell(launcher + std::filesystem::read_symlink("/proc/self/exe").string() +
                          " --gtest_color=no --gtest_also_run_disabled_tests --gtest_filter='" +
                          suite + ".*'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_of(r.output, "[  PASSED  ] " + std::to_string(tests) + " tests."), 2) << r.output;
  EXPECT_EQ(count_of(r.output, "[  SKIPPED ]"), 0) << r.output;
}

}  // namespace te::testing
