#pragma once
// Scalars for TensorBoard: one event file per writer, events.out.tfevents.<time>.<host>,
// readable by `tensorboard --logdir` (no TensorFlow or protobuf dependency; see event_encoding.h).
#include <cstdint>
#include <cstdio>
#include <string>

namespace te {

class TensorBoardWriter {
 public:
  // Creates `log_dir` if needed and the event file with its file_version record.
  // Throws te::IoError naming the path and the reason. Not thread-safe.
  explicit TensorBoardWriter(const std::string& log_dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Buffered; call flush() (e.g. once per log interval) to make records visible.
  void add_scalar(const std::string& tag, double value, int64_t step);
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace te
