#include "engine/layers/batchnorm_base.h"

namespace te {

BatchNormBase::BatchNormBase(LayerArgs& args)
    : eps_(args.get_float("eps", 1e-5)),
      momentum_(args.get_float("momentum", 0.1)),
      affine_(args.get_bool("affine", true)),
      num_features_(args.get_int("num_features", 0)) {
  if (!(eps_ > 0.0)) throw ConfigError(args.location("eps") + ": must be > 0, got " + std::to_string(eps_));
  if (!(momentum_ >= 0.0 && momentum_ <= 1.0))
    throw ConfigError(args.location("momentum") + ": must be in [0, 1], got " + std::to_string(momentum_));
  if (num_features_ < 0)
    throw ConfigError(args.location("num_features") + ": must be positive, got " + std::to_string(num_features_));
}

void BatchNormBase::check_input(const Shape& x) const {
  if (num_features_ && x.rank() == 4 && x[1] != num_features_)
    throw ShapeError(describe() + ": input " + x.str() + " has " + std::to_string(x[1]) +
                     " channels, num_features is " + std::to_string(num_features_));
}

void BatchNormBase::declare_state(const Shape& x) {
  const Shape c{x[1]};
  if (!buffers_.empty()) {  // built before: the channels must not change
    if (buffers_[0].shape != c)
      throw ShapeError(describe() + ": built for " + buffers_[0].shape.str() + " channels, now " + c.str());
    return;
  }
  if (affine_) {
    declare_param("weight", c, Init::Ones);
    declare_param("bias", c, Init::Zeros);
  }
  declare_buffer("running_mean", c, Init::Zeros);
  declare_buffer("running_var", c, Init::Ones);
  declare_buffer("num_batches_tracked", Shape{}, Init::Zeros, DType::I64);
}

Param& BatchNormBase::buffer(size_t i) {
  if (buffers_.size() != 3 || !buffers_[i].value.defined())
    throw Error(describe() + ": used before build() and parameter allocation");
  return buffers_[i];
}

void BatchNormBase::prepare_saved_stats(const Tensor& x) {
  const Shape c{x.dim(1)};
  const DType t = buffer(0).value.dtype();
  ensure_shape(save_mean_, c, t, x.device());
  ensure_shape(save_invstd_, c, t, x.device());
}

int64_t BatchNormBase::saved_bytes(const std::vector<Shape>& inputs) const {
  return inputs.empty() || inputs[0].rank() < 2 ? 0 : 2 * inputs[0][1] * static_cast<int64_t>(sizeof(float));
}

}  // namespace te
