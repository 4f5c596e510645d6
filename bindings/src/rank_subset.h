#pragma once
// One rank's share of a data set for data-parallel loading: samples rank, rank + world_size,
// rank + 2 * world_size, ... of the underlying set (disjoint across ranks, together all of it;
// sizes differ by at most one). Each rank's loader shuffles its own share with (seed, epoch).
#include <memory>

#include "engine/core/error.h"
#include "engine/data/dataset.h"

namespace te::py {

class RankSubset : public Dataset {
 public:
  RankSubset(std::shared_ptr<Dataset> base, int64_t rank, int64_t world_size)
      : base_(std::move(base)), rank_(rank), world_(world_size) {
    if (world_ < 1 || rank_ < 0 || rank_ >= world_)
      throw ConfigError("loader: rank must be in [0, world_size), got rank " + std::to_string(rank_) +
                        " and world_size " + std::to_string(world_));
  }
  int64_t size() const override { return (base_->size() - rank_ + world_ - 1) / world_; }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  int32_t label(int64_t i) const override { return base_->label(at(i)); }
  std::string describe(int64_t i) const override { return base_->describe(at(i)); }
  void read(int64_t i, SampleData& out) const override { base_->read(at(i), out); }
  std::string kind() const override { return base_->kind(); }

 private:
  int64_t at(int64_t i) const { return rank_ + i * world_; }
  std::shared_ptr<Dataset> base_;
  int64_t rank_, world_;
};

}  // namespace te::py
