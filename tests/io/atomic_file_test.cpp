// write_file_atomic: the target holds either the old or the complete new content.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "temp_dir.h"

namespace te {
namespace {

int count_temp_files(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  return n;
}

TEST(AtomicFile, WritesAndReplaces) {
  testing::TempDir dir("atomic_replace");
  const std::string path = dir.file("state.bin");
  write_file_atomic(path, "old content");
  EXPECT_EQ(read_file(path), "old content");
  const std::string binary("new\0content\n", 12);
  write_file_atomic(path, binary);
  EXPECT_EQ(read_file(path), binary);
  EXPECT_EQ(count_temp_files(dir.path()), 0);
}

TEST(AtomicFile, FailedWriteKeepsOldContentAndLeavesNoTemp) {
  // A child process with a 16-byte file size limit: the temp file cannot be written in full,
  // so write_file_atomic must throw before the rename and clean up.
  testing::TempDir dir("atomic_fail");
  const std::string path = dir.file("ckpt.safetensors");
  write_file_atomic(path, "old content");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of being killed
    rlimit limit{16, 16};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      write_file_atomic(path, std::string(4096, 'x'));
    } catch (const IoError& e) {
      const std::string msg = e.what();
      ::_exit(msg.find(path) != std::string::npos && msg.find("File too large") != std::string::npos
                  ? 0 : 3);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(1);  // no exception: wrong
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: wrong error type, 3: message lacks path";
  EXPECT_EQ(read_file(path), "old content");
  EXPECT_EQ(count_temp_files(dir.path()), 0);
}

TEST(AtomicFile, RenameOntoADirectoryFailsCleanly) {
  testing::TempDir dir("atomic_dir");
  const std::string path = dir.file("occupied");
  std::filesystem::create_directories(std::filesystem::path(path) / "child");
  EXPECT_THROW(write_file_atomic(path, "data"), IoError);
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_EQ(count_temp_files(dir.path()), 0);
}

TEST(AtomicFile, UnwritableDirectoryNamesThePath) {
  testing::TempDir dir("atomic_missing");
  const std::string path = dir.file("no/such/dir/file.bin");
  try {
    write_file_atomic(path, "data");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  EXPECT_THROW(read_file(dir.file("missing")), IoError);
}

}  // namespace
}  // namespace te
