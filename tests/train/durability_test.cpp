// No run or checkpoint is lost (issue 14): a damaged checkpoint is refused naming the file and
// --resume falls back to the previous kept one; a full disk during a checkpoint write stops the
// run clearly with the earlier checkpoints intact; kill -9 during a checkpoint write (between
// the temporary file and the rename) resumes from the newest complete checkpoint.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "engine/train/run_dir.h"
#include "train_fixture.h"

namespace te {
namespace {
namespace fs = std::filesystem;
using namespace te::testing;

const std::string& data_root() {
  static const std::string root = [] {
    const std::string dir = fresh_dir("durability_data");
    make_color_dataset(dir, 16, 4, 16, 3);  // 48 images: 3 steps per epoch at batch 16
    return dir;
  }();
  return root;
}

// A 3-epoch run configured in `dir`; checkpoints at steps 3, 6 and 9.
std::string config_in(const std::string& dir) {
  const std::string path = dir + "/tiny.yaml";
  write_text(path, tiny_config(data_root(), "train: {epochs: 3}\ncheckpoint: {keep: 3}\n"
                                            "logging: {tensorboard: false}\n"));
  return path;
}

CommandResult train_new(const std::string& dir, const std::string& run) {
  return run_command({trainer_binary(), "--config", config_in(dir), "--out", run, "--device", "cpu"});
}
CommandResult resume(const std::string& run) {
  return run_command({trainer_binary(), "--resume", run, "--device", "cpu"});
}

// The environment variable set for the trainers this scope starts.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const std::string& n, const std::string& value) : name(n) { setenv(n.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> temporaries(const RunPaths& run) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run.checkpoints(), ec))
    if (contains(e.path().filename().string(), ".tmp.")) out.push_back(e.path().string());
  return out;
}

void flip_byte(const std::string& path, double where) {
  std::string bytes = read_text(path);
  bytes[static_cast<size_t>(where * static_cast<double>(bytes.size() - 1))] ^= 0x04;
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Durability, DamagedCheckpointIsRefusedAndResumeFallsBack) {
  const std::string dir = fresh_dir("damaged");
  const std::string run = dir + "/run";
  ASSERT_EQ(train_new(dir, run).exit_code, 0);
  const RunPaths paths{run};
  const CheckpointFiles first = checkpoint_files(paths, 1, 3), second = checkpoint_files(paths, 2, 6),
                        third = checkpoint_files(paths, 3, 9);
  fs::remove(third.weights);  // as if the run had stopped after epoch 2
  flip_byte(second.weights, 0.7);

  // eval refuses the damaged file by name.
  const CommandResult e = run_command({trainer_binary(), "eval", "--checkpoint", second.weights,
                                       "--data", data_root() + "/val", "--device", "cpu"});
  EXPECT_NE(e.exit_code, 0) << e.output;
  EXPECT_TRUE(contains(e.output, "'" + second.weights + "'")) << e.output;
  EXPECT_TRUE(contains(e.output, "checksum mismatch")) << e.output;

  // --resume warns, names it, and continues from the previous kept checkpoint to the end.
  const CommandResult r = resume(run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "'" + second.weights + "'")) << r.output;
  EXPECT_TRUE(contains(r.output, "falling back to the previous kept checkpoint")) << r.output;
  EXPECT_TRUE(contains(r.output, "resumed from " + first.weights)) << r.output;
  EXPECT_TRUE(fs::exists(third.weights));

  // A truncated training state: the same fallback.
  fs::remove(third.weights);
  const std::string state = read_text(second.state);
  std::ofstream(second.state, std::ios::binary) << state.substr(0, state.size() / 2);
  const CommandResult t = resume(run);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(contains(t.output, "'" + second.state + "'")) << t.output;
  EXPECT_TRUE(contains(t.output, "resumed from " + first.weights)) << t.output;

  // Nothing usable left: a clear error, not a fresh start.
  for (const auto& c : list_checkpoints(paths)) flip_byte(c.state, 0.5);
  const CommandResult n = resume(run);
  EXPECT_NE(n.exit_code, 0) << n.output;
  EXPECT_TRUE(contains(n.output, "every kept checkpoint is damaged")) << n.output;
}

TEST(Durability, FullDiskDuringACheckpointKeepsTheEarlierOnes) {
  // The state file, then (another run) the weights file of the second checkpoint fail to write.
  for (const std::string failing : {"epoch-0002-step-0000006.state", "epoch-0002-step-0000006.safetensors"}) {
    SCOPED_TRACE(failing);
    const std::string dir = fresh_dir("full_disk");
    const std::string run = dir + "/run";
    const RunPaths paths{run};
    {
      ScopedEnv fail("TE_TEST_WRITE_FAIL", failing);
      const CommandResult r = train_new(dir, run);
      EXPECT_EQ(r.exit_code, 1) << r.output;
      EXPECT_TRUE(contains(r.output, "No space left on device")) << r.output;
      EXPECT_TRUE(contains(r.output, "The earlier checkpoints are intact (newest: " +
                                         checkpoint_files(paths, 1, 3).weights)) << r.output;
    }
    const auto kept = list_checkpoints(paths);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].step, 3);
    EXPECT_TRUE(temporaries(paths).empty());
    EXPECT_FALSE(fs::exists(checkpoint_files(paths, 2, 6).state));  // no orphan state file
    const CommandResult r = resume(run);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "resumed from " + kept[0].weights)) << r.output;
    EXPECT_EQ(list_checkpoints(paths).back().step, 9);
  }
}

TEST(Durability, KillDuringACheckpointWriteResumesFromTheNewestComplete) {
  // Each trial kills the trainer while the k-th temporary checkpoint file exists, i.e. between
  // its write and its rename (the hook holds it there for 300 ms).
  for (int trial = 1; trial <= 3; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const std::string dir = fresh_dir("kill" + std::to_string(trial));
    const std::string run = dir + "/run";
    const RunPaths paths{run};
    pid_t pid = -1;
    {
      ScopedEnv pause("TE_TEST_WRITE_PAUSE_MS", "300");
      pid = spawn_command({trainer_binary(), "--config", config_in(dir), "--out", run, "--device",
                           "cpu"}, dir + "/first.log");
    }
    std::set<std::string> seen;
    bool killed = false;
    for (int i = 0; i < 6000 && !killed; ++i) {
      for (const auto& t : temporaries(paths)) seen.insert(t);
      if (static_cast<int>(seen.size()) >= trial) {
        kill(pid, SIGKILL);
        killed = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    ASSERT_TRUE(killed) << read_text(dir + "/first.log");
    EXPECT_EQ(wait_exit_code(pid), 128 + SIGKILL);
    const auto newest = latest_checkpoint(paths);
    if (!newest) {  // killed inside the very first checkpoint: nothing to resume yet
      EXPECT_TRUE(contains(resume(run).output, "no complete checkpoint"));
      continue;
    }
    const CommandResult r = resume(run);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "resumed from " + newest->weights)) << r.output;
    EXPECT_FALSE(contains(r.output, "damaged")) << r.output;
    EXPECT_TRUE(temporaries(paths).empty());
    EXPECT_EQ(list_checkpoints(paths).back().step, 9);
  }
}

}  // namespace
}  // namespace te
