#include "engine/train/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "engine/core/error.h"

namespace te {

void log_to_console_and_file(const std::string& path) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false));
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError("cannot open the log file '" + path + "': " + e.what());
  }
  auto logger = std::make_shared<spdlog::logger>("trainer", sinks.begin(), sinks.end());
  logger->set_level(spdlog::get_level());
  logger->flush_on(spdlog::level::info);  // a killed run still has its log
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%^%l%$] %v");
}

void log_to_console_only() {
  auto logger = std::make_shared<spdlog::logger>(
      "trainer", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::get_level());
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%^%l%$] %v");
}

}  // namespace te
