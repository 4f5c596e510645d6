#pragma once
// The engine's log: spdlog's default logger, to the console and (during a run) also to the run
// directory's train.log, so the file keeps everything the console showed.
#include <string>

namespace te {

// Console (stderr) plus `path` (appended: a resumed run continues its log).
void log_to_console_and_file(const std::string& path);
// Back to the console only (closes the file).
void log_to_console_only();

}  // namespace te
