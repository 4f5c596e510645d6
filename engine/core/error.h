#pragma once
// Exception types of the engine. Library code throws; only main() decides exit codes.
#include <stdexcept>
#include <string>

namespace te {

// Base of every engine error; `what()` is a complete, user-facing message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A config or model description is wrong (message names file, line, key).
class ConfigError : public Error { using Error::Error; };
// Shapes of a layer's inputs do not fit (message names the layer and the shapes).
class ShapeError : public Error { using Error::Error; };
// A data set, image or data file is missing or unreadable.
class DataError : public Error { using Error::Error; };
// A file could not be read or written (checkpoints, logs).
class IoError : public Error { using Error::Error; };
// A CUDA, cuDNN or cuBLAS call failed, or no device is usable.
class DeviceError : public Error { using Error::Error; };

}  // namespace te

// Throws te::Error (or the given subclass) when `cond` is false; the message gets file:line.
#define TE_CHECK(cond, msg)                                                              \
  do {                                                                                   \
    if (!(cond))                                                                         \
      throw ::te::Error(std::string(msg) + " (check `" #cond "` failed at " __FILE__ ":" + \
                        std::to_string(__LINE__) + ")");                                 \
  } while (0)
