#pragma once
// IDX files (the MNIST format): big-endian magic 0x0000TTNN (TT = element type, NN = number
// of dimensions), NN big-endian uint32 dimensions, then the elements. Read gzipped or plain.
#include <cstdint>
#include <string>
#include <vector>

namespace te {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes (type 0x08), the only type image sets use
};

// Reads `path` (gzip detected by content). DataError naming the file on any inconsistency.
IdxArray read_idx(const std::string& path);

struct IdxPaths {
  std::string images, labels;  // empty when the split's files are not there
};
// `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` in `dir`, where the
// prefix is "train" for split "train" and "t10k" for "test" or "t10k".
IdxPaths idx_files_for(const std::string& dir, const std::string& split);
// True when `dir` holds any `*-images-idx3-ubyte*` file.
bool has_idx_files(const std::string& dir);

}  // namespace te
