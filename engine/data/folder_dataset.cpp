// Folder-per-class image sets (`root/<class>/**/<file>`) and list files (`path label` lines).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"
#include "engine/data/dataset.h"

namespace te {
namespace {
namespace fs = std::filesystem;

// Files on disk with labels; the bytes are read on demand.
class FileListDataset final : public Dataset {
 public:
  FileListDataset(std::string kind, std::vector<std::string> paths, std::vector<int32_t> labels,
                  std::vector<std::string> names)
      : kind_(std::move(kind)), paths_(std::move(paths)), labels_(std::move(labels)),
        names_(std::move(names)) {}

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return labels_[i]; }
  std::string describe(int64_t i) const override { return paths_[i]; }
  std::string kind() const override { return kind_; }
  void read(int64_t i, SampleData& out) const override {
    out.kind = SampleData::Kind::Encoded;
    out.storage = read_file_bytes(paths_[i]);
    out.own();
  }

 private:
  std::string kind_;
  std::vector<std::string> paths_;
  std::vector<int32_t> labels_;
  std::vector<std::string> names_;
};

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

}  // namespace

std::shared_ptr<Dataset> open_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError("image folder '" + root + "' is not a folder");
  std::vector<fs::path> class_dirs;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !hidden(e.path())) class_dirs.push_back(e.path());
  if (ec) throw DataError("cannot list '" + root + "': " + ec.message());
  if (class_dirs.empty())
    throw DataError("image folder '" + root + "' has no class folders (expected " + root +
                    "/<class>/<image files>)");
  std::sort(class_dirs.begin(), class_dirs.end());
  std::vector<std::string> names, paths;
  std::vector<int32_t> labels;
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(class_dirs[c], fs::directory_options::follow_directory_symlink, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (hidden(it->path())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    if (ec) throw DataError("cannot list '" + class_dirs[c].string() + "': " + ec.message());
    if (files.empty())
      throw DataError("class folder '" + class_dirs[c].string() +
                      "' contains no files; remove it or add its images");
    std::sort(files.begin(), files.end());
    names.push_back(class_dirs[c].filename().string());
    for (auto& f : files) {
      paths.push_back(std::move(f));
      labels.push_back(static_cast<int32_t>(c));
    }
  }
  return std::make_shared<FileListDataset>("image folder", std::move(paths), std::move(labels),
                                           std::move(names));
}

std::shared_ptr<Dataset> open_list_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError("cannot read list file '" + path + "'");
  const fs::path base = fs::path(path).parent_path();
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  std::string line;
  int32_t max_label = -1;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t last = line.find_last_not_of(" \t\r");
    const std::string body = line.substr(first, last - first + 1);
    const size_t split = body.find_last_of(" \t");
    int32_t label = -1;
    if (split != std::string::npos) {
      try {
        size_t used = 0;
        const long v = std::stol(body.substr(split + 1), &used);
        if (used == body.size() - split - 1 && v >= 0 && v < (1L << 30)) label = static_cast<int32_t>(v);
      } catch (const std::exception&) {
      }
    }
    if (label < 0)
      throw DataError(path + ":" + std::to_string(line_no) +
                      ": expected `<image path> <label>` with a non-negative integer label, got '" +
                      body + "'");
    std::string file = body.substr(0, body.find_last_not_of(" \t", split) + 1);
    fs::path p(file);
    if (p.is_relative()) p = base / p;
    paths.push_back(p.string());
    labels.push_back(label);
    max_label = std::max(max_label, label);
  }
  if (paths.empty()) throw DataError("list file '" + path + "' lists no images");
  std::vector<std::string> names;
  for (int32_t c = 0; c <= max_label; ++c) names.push_back(std::to_string(c));
  return std::make_shared<FileListDataset>("list file", std::move(paths), std::move(labels),
                                           std::move(names));
}

}  // namespace te
