// IDX image sets (MNIST, Fashion-MNIST): the whole split is held in memory as pixels.
#include <algorithm>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/idx_format.h"

namespace te {
namespace {

class IdxDataset final : public Dataset {
 public:
  IdxDataset(const IdxPaths& paths) : path_(paths.images) {
    IdxArray images = read_idx(paths.images);
    IdxArray labels = read_idx(paths.labels);
    if (images.dims.size() != 3)
      throw DataError("IDX images '" + paths.images + "' must have 3 dimensions (N, rows, cols), has " +
                      std::to_string(images.dims.size()));
    if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0])
      throw DataError("IDX labels '" + paths.labels + "' do not match the " +
                      std::to_string(images.dims[0]) + " images in '" + paths.images + "'");
    if (images.dims[0] == 0) throw DataError("IDX file '" + paths.images + "' holds no images");
    count_ = images.dims[0];
    height_ = images.dims[1];
    width_ = images.dims[2];
    pixels_ = std::move(images.data);
    labels_.assign(labels.data.begin(), labels.data.end());
    const int32_t max_label = *std::max_element(labels_.begin(), labels_.end());
    for (int32_t c = 0; c <= max_label; ++c) names_.push_back(std::to_string(c));
  }

  int64_t size() const override { return count_; }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return labels_[i]; }
  std::string describe(int64_t i) const override { return path_ + "#" + std::to_string(i); }
  std::string kind() const override { return "IDX"; }
  void read(int64_t i, SampleData& out) const override {
    out.kind = SampleData::Kind::Pixels;
    out.height = height_;
    out.width = width_;
    out.channels = 1;
    out.data = pixels_.data() + i * height_ * width_;
    out.size = static_cast<size_t>(height_ * width_);
  }

 private:
  std::string path_;
  int64_t count_ = 0, height_ = 0, width_ = 0;
  std::vector<uint8_t> pixels_;
  std::vector<int32_t> labels_;
  std::vector<std::string> names_;
};

}  // namespace

std::shared_ptr<Dataset> open_idx(const std::string& dir, const std::string& split) {
  const IdxPaths paths = idx_files_for(dir, split);
  if (paths.images.empty() || paths.labels.empty())
    throw DataError("IDX folder '" + dir + "' has no " + split +
                    " split (expected <train|t10k>-images-idx3-ubyte[.gz] and "
                    "<train|t10k>-labels-idx1-ubyte[.gz]; split is \"train\" or \"test\")");
  return std::make_shared<IdxDataset>(paths);
}

}  // namespace te
