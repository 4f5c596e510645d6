#include "engine/layers/batchnorm2d.h"

#include "engine/layers/batch_stats_sync.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_sync.h"

namespace te {

Shape BatchNorm2d::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() != 4)
    throw ShapeError(describe() + ": takes one [N, C, H, W] input, got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  check_input(inputs[0]);
  return inputs[0];
}

void BatchNorm2d::build(const std::vector<Shape>& inputs) {
  output_shape(inputs);
  declare_state(inputs[0]);
}

void BatchNorm2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                          const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  output_shape({x.shape()});
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  Tensor& rmean = buffer(0).value;
  Tensor& rvar = buffer(1).value;
  if (!ctx.training) {
    ops::batchnorm_forward_eval(x, weight(), bias(), rmean, rvar, eps_, output, ctx.layout);
    have_batch_stats_ = false;
    return;
  }
  prepare_saved_stats(x);
  have_batch_stats_ = true;
  synced_count_ = 0;
  if (ctx.batch_stats_sync) {
    std::vector<double> sums = ops::batchnorm_sync_stats(x, ctx.layout);
    ctx.batch_stats_sync->sum(sums.data(), static_cast<int64_t>(sums.size()));
    synced_count_ = sums.back();
    ops::batchnorm_sync_forward(x, weight(), bias(), sums, rmean, rvar, &buffer(2).value, save_mean_,
                                save_invstd_, eps_, momentum_, output, ctx.layout);
    return;
  }
  ops::batchnorm_forward_train(x, weight(), bias(), rmean, rvar, &buffer(2).value, save_mean_,
                               save_invstd_, eps_, momentum_, output, ctx.layout);
}

void BatchNorm2d::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  const bool accumulate = dx && args.modes.at(0) == GradMode::Accumulate;
  Tensor* dw = weight_grad();
  Tensor* db = bias_grad();
  const Tensor& x = *args.inputs.at(0);
  if (args.ctx.training) {
    if (!have_batch_stats_)
      throw Error(describe() + ": training-mode backward without a training-mode forward");
    if ((synced_count_ > 0) != (args.ctx.batch_stats_sync != nullptr))
      throw Error(describe() + ": synchronised batch norm in only one of forward and backward");
    if (synced_count_ > 0) {
      // Every replica sums, also one that needs no dx: the others wait for it.
      const std::vector<double> local =
          ops::batchnorm_sync_backward_sums(x, *args.grad_output, save_mean_, save_invstd_,
                                            args.ctx.layout);
      std::vector<double> global = local;
      args.ctx.batch_stats_sync->sum(global.data(), static_cast<int64_t>(global.size()));
      ops::batchnorm_sync_backward(x, *args.grad_output, weight(), save_mean_, save_invstd_, local,
                                   global, synced_count_, dx, accumulate, dw, db, args.ctx.layout);
      return;
    }
    ops::batchnorm_backward_train(x, *args.grad_output, weight(), save_mean_, save_invstd_, dx,
                                  accumulate, dw, db, args.ctx.layout);
  } else {
    ops::batchnorm_backward_eval(x, *args.grad_output, weight(), buffer(0).value,
                                 buffer(1).value, eps_, dx, accumulate, dw, db, args.ctx.layout);
  }
}

}  // namespace te
