#pragma once
// A labelled set of samples: the index (what exists and its label), not the decoding. Readers
// are thread-safe: the loader's workers call read() concurrently.
//
// open_dataset(path, opts) recognises, in this order:
//   - a shard directory: contains `shards.json` (written by `trainer pack`);
//   - an IDX directory: contains `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte`,
//     each optionally `.gz` (MNIST / Fashion-MNIST layout; split "train", or "test"/"t10k"
//     for the t10k files), e.g. /usr/share/datasets/fashion-mnist; or the images file itself
//     (`.../t10k-images-idx3-ubyte.gz`: split from its name);
//   - a folder of class folders: `root/<class>/**/<file>`; classes sorted by name give the
//     labels; every file not starting with '.' is a sample whose type is decided later by its
//     magic bytes;
//   - a list file: lines `path label` (label a non-negative integer, last field; paths
//     relative to the list file's folder; blank lines and lines starting with '#' ignored).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/sample.h"

namespace te {

struct DatasetOptions {
  std::string split = "train";  // IDX only: "train", or "test" / "t10k"
};

class Dataset {
 public:
  virtual ~Dataset();
  virtual int64_t size() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual int32_t label(int64_t i) const = 0;
  // File path, or "file#index" for samples inside a container; used in messages.
  virtual std::string describe(int64_t i) const = 0;
  // The sample's bytes. Throws DataError (with the path) when the file cannot be read at all;
  // content problems surface later as BadImageError from the decoder.
  virtual void read(int64_t i, SampleData& out) const = 0;
  // "image folder", "list file", "IDX", "shards".
  virtual std::string kind() const = 0;
};

std::shared_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& opts = {});

// The individual sources (open_dataset picks one).
std::shared_ptr<Dataset> open_image_folder(const std::string& root);
std::shared_ptr<Dataset> open_list_file(const std::string& path);
std::shared_ptr<Dataset> open_idx(const std::string& dir, const std::string& split);
std::shared_ptr<Dataset> open_shards(const std::string& dir);

// Whole file into memory; DataError naming the file and the OS reason when it fails.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace te
