#pragma once
// Whole-file writes that are all-or-nothing: readers (and a run resumed after a crash) see either
// the old file or the complete new one, never a half-written checkpoint.
#include <string>

namespace te {

// Writes `bytes` to `path.tmp.<pid>`, fsyncs it, renames it over `path`, then fsyncs the
// directory so the rename itself survives a power loss. On any failure the temporary file is
// removed, `path` keeps its old content, and te::IoError names the path and the system's reason.
// One writer per path at a time within a process (the temporary name is per process).
void write_file_atomic(const std::string& path, const std::string& bytes);

// The whole content of `path`; te::IoError naming the path and the reason when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace te
