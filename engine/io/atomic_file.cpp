#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"
#include "engine/io/write_faults.h"

namespace te {
namespace {

std::string reason(int err) { return std::strerror(err); }

// Writes all of `data`, retrying after signals and short writes; returns 0 or an errno value.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// fsync of the directory holding `path`, so the new directory entry is durable.
int sync_directory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL); the rename is still done.
  return err == EINVAL ? 0 : err;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& step, int err, bool remove_tmp) {
    if (remove_tmp) ::unlink(tmp.c_str());
    throw IoError("cannot write '" + path + "': " + step + ": " + reason(err));
  };

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("creating the temporary file '" + tmp + "'", errno, false);
  int err = injected_write_error(path);
  if (err) {
    write_all(fd, bytes.data(), bytes.size() / 2);  // what a disk filling up mid-write leaves
  } else {
    err = write_all(fd, bytes.data(), bytes.size());
  }
  if (err) {
    ::close(fd);
    fail("writing " + std::to_string(bytes.size()) + " bytes to '" + tmp + "'", err, true);
  }
  if (::fsync(fd) != 0) {
    err = errno;
    ::close(fd);
    fail("fsync of '" + tmp + "'", err, true);
  }
  if (::close(fd) != 0) fail("closing '" + tmp + "'", errno, true);
  pause_before_rename();
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming '" + tmp + "'", errno, true);
  err = sync_directory(path);
  if (err) fail("fsync of its directory", err, false);
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw IoError("cannot read '" + path + "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "': " + reason(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw IoError("cannot read '" + path + "': " + reason(errno));
  return std::move(content).str();
}

}  // namespace te
