// Reading packed shards: the index is loaded into memory, the shard files are memory-mapped
// and each record is handed out as a view into the mapping (the OS pages it in as read).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/shard_format.h"
#include "engine/io/json_numbers.h"

namespace te {
namespace {
namespace fs = std::filesystem;

// A read-only mapping of one file, unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw DataError("cannot open shard '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      throw DataError("cannot stat shard '" + path + "': " + std::strerror(errno));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        throw DataError("cannot map shard '" + path + "': " + std::strerror(errno));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

class ShardDataset final : public Dataset {
 public:
  explicit ShardDataset(const std::string& dir) : dir_(dir) {
    const std::string meta_path = (fs::path(dir) / kShardMetaFile).string();
    nlohmann::json meta;
    try {
      std::ifstream in(meta_path);
      meta = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw DataError("cannot parse shard metadata '" + meta_path + "': " + e.what());
    }
    try {
      if (meta.at("format") != "te-shards" || meta.at("version") != kShardFormatVersion)
        throw DataError("'" + meta_path + "' is not a version " +
                        std::to_string(kShardFormatVersion) + " te-shards file");
      raw_ = meta.at("encoding") == "raw";
      channels_ = json_int64(meta.at("channels"));
      names_ = meta.at("classes").get<std::vector<std::string>>();
      const int64_t count = json_int64(meta.at("count"));
      const int64_t shards = json_int64(meta.at("shards"));
      if (channels_ != 1 && channels_ != 3)
        throw DataError("'" + meta_path + "': channels is " + std::to_string(channels_) +
                        ", expected 1 or 3");
      const std::vector<uint8_t> index = read_file_bytes((fs::path(dir) / kShardIndexFile).string());
      // count compared by division: count * 32 could wrap onto the index size.
      if (count < 0 || static_cast<uint64_t>(count) != index.size() / sizeof(ShardRecord) ||
          index.size() % sizeof(ShardRecord) != 0)
        throw DataError("shard index in '" + dir + "' has " + std::to_string(index.size()) +
                        " bytes; expected " + std::to_string(count) + " records of 32 bytes");
      if (shards < 0 || shards > count)
        throw DataError("'" + meta_path + "' declares " + std::to_string(shards) +
                        " shard files for " + std::to_string(count) + " records");
      records_.resize(static_cast<size_t>(count));
      if (count > 0) std::memcpy(records_.data(), index.data(), index.size());
      for (int64_t s = 0; s < shards; ++s)
        files_.push_back(std::make_unique<MappedFile>((fs::path(dir) / shard_file_name(s)).string()));
    } catch (const nlohmann::json::exception& e) {
      throw DataError("bad shard metadata '" + meta_path + "': " + e.what());
    } catch (const std::invalid_argument& e) {
      throw DataError("bad shard metadata '" + meta_path + "': " + e.what());
    }
    if (records_.empty()) throw DataError("shard folder '" + dir + "' holds no images");
    for (size_t i = 0; i < records_.size(); ++i) {
      const ShardRecord& r = records_[i];
      if (r.shard >= files_.size() || r.offset > files_[r.shard]->size() ||
          r.size > files_[r.shard]->size() - r.offset ||
          r.label < 0 || r.label >= static_cast<int32_t>(names_.size()))
        throw DataError("shard index in '" + dir + "' is inconsistent at record " +
                        std::to_string(i) + " (shard " + std::to_string(r.shard) + ", offset " +
                        std::to_string(r.offset) + ", label " + std::to_string(r.label) + ")");
    }
  }

  int64_t size() const override { return static_cast<int64_t>(records_.size()); }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return records_[i].label; }
  std::string describe(int64_t i) const override {
    return (fs::path(dir_) / shard_file_name(records_[i].shard)).string() + "#" + std::to_string(i);
  }
  std::string kind() const override { return "shards"; }
  void read(int64_t i, SampleData& out) const override {
    const ShardRecord& r = records_[i];
    out.kind = raw_ ? SampleData::Kind::Pixels : SampleData::Kind::Encoded;
    out.data = files_[r.shard]->data() + r.offset;
    out.size = r.size;
    out.height = r.height;
    out.width = r.width;
    out.channels = channels_;
  }

 private:
  std::string dir_;
  bool raw_ = false;
  int64_t channels_ = 3;
  std::vector<std::string> names_;
  std::vector<ShardRecord> records_;
  std::vector<std::unique_ptr<MappedFile>> files_;
};

}  // namespace

std::shared_ptr<Dataset> open_shards(const std::string& dir) {
  return std::make_shared<ShardDataset>(dir);
}

}  // namespace te
