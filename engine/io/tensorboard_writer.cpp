#include "engine/io/tensorboard_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/io/event_encoding.h"

namespace te {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) throw IoError("cannot create the TensorBoard directory '" + log_dir + "': " + ec.message());
  const double t = now_seconds();
  path_ = (std::filesystem::path(log_dir) /
           ("events.out.tfevents." + std::to_string(static_cast<int64_t>(t)) + "." + host_name()))
              .string();
  // Append: a second writer in the same second adds to the file instead of truncating it.
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) throw IoError("cannot open '" + path_ + "' for writing: " + std::strerror(errno));
  write_record(tfevent::file_version_event(t));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  write_record(tfevent::scalar_event(now_seconds(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0)
    throw IoError("cannot write to '" + path_ + "': " + std::strerror(errno));
}

void TensorBoardWriter::write_record(const std::string& event) {
  const std::string record = tfevent::tfrecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    throw IoError("cannot write to '" + path_ + "': " + std::strerror(errno));
}

}  // namespace te
