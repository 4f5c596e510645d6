// The Trainer's data-parallel hooks (engine/distributed): each a no-op without a communicator.
#include <spdlog/spdlog.h>

#include <csignal>

#include "engine/distributed/batch_stats_allreduce.h"
#include "engine/distributed/sharded_eval.h"
#include "engine/train/interrupt.h"
#include "engine/train/trainer_impl.h"

namespace te {

void Trainer::Impl::setup_data_parallel() {
  if (!dp) return;
  // Cheap agreement checks first: a rank with another config or data set would otherwise fail
  // much later, or silently train on something else.
  dp->check_same(graph->num_parameters(), "the model's parameter count");
  dp->check_same(train_set->size(), "the training set's size");
  dp->check_same(steps_per_epoch, "the steps per epoch");
  dp->check_same(static_cast<int64_t>(state.step), "the optimizer step (resume position)");
  // Every rank seeds its initialisation alike, so this is a safety net: the ranks start from
  // rank 0's bytes whatever happened before.
  dp->broadcast_from_root(graph->parameters());
  for (auto& b : buffers) dp->broadcast_from_root(b.tensor);
  graph->sync_compute_params();
  if (config.train.sync_batchnorm) bn_sync = std::make_unique<BatchStatsAllReduce>(dp->comm());
  // The overlap needs a communicator that can run collectives while backward goes on: a second
  // thread allowed into MPI (CPU ranks) or NCCL's side stream (GPU ranks; with mixed precision
  // each layer's gradients reach the f32 masters right after its backward, see
  // arm_overlapped_allreduce). Sync batch norm's collectives run inside backward on the
  // training thread: with the overlap, two kinds of collectives could interleave differently
  // on each rank.
  const char* no_overlap = !config.train.allreduce_overlap ? "train.allreduce_overlap: false"
                           : config.train.sync_batchnorm   ? "train.sync_batchnorm: its collectives run in backward"
                           : !dp->can_overlap()            ? "the communicator cannot overlap"
                                                           : nullptr;
  overlap_allreduce = no_overlap == nullptr;
  if (overlap_allreduce)
    graph->set_gradients_ready_hook([this](int64_t offset, int64_t count) { dp->gradients_ready(offset, count); });
  const std::string when = overlap_allreduce ? "during backward" : std::string("after backward (") + no_overlap + ")";
  const int64_t b = config.data.batch_size;
  spdlog::info("data parallel: {} ranks over {} (gradients averaged in {:.3g} MiB buckets of {} "
               "once per optimizer step, {}); data.batch_size {} is per rank, global batch {} x {} = {}{}; "
               "optim.lr {} is used as given for the global batch (not scaled by the ranks); "
               "batch-norm statistics {}",
               dp->size(), dp->comm().backend(), options.bucket_bytes / 1048576.0,
               config.train.allreduce_dtype, when, b, dp->size(), b,
               dp->size() * b,
               config.train.grad_accum > 1
                   ? " per micro-batch, x grad_accum " + std::to_string(config.train.grad_accum)
                   : std::string(),
               config.optim.lr,
               bn_sync ? "over all ranks (train.sync_batchnorm)" : "per rank (averaged before evaluation and checkpoints)");
}

void Trainer::Impl::reduce_step(StepResult& r) {
  if (!dp) return;
  // Equal batches on every rank (drop_last shards), so the mean of the ranks' mean losses is
  // the global batch's mean loss.
  double v[3] = {r.loss, static_cast<double>(r.images), static_cast<double>(r.correct)};
  dp->comm().allreduce_sum(v, 3);
  r.loss = v[0] / dp->size();
  r.images = static_cast<int64_t>(v[1]);
  r.correct = static_cast<int64_t>(v[2]);
}

void Trainer::Impl::average_gradients() {
  if (dp && !overlap_allreduce) dp->average_gradients(graph->gradients());
}

void Trainer::Impl::arm_overlapped_allreduce(int64_t micro) {
  // With gradient accumulation only the last micro-batch's backward makes them final.
  if (!overlap_allreduce || micro + 1 != config.train.grad_accum) return;
  // Mixed precision (or a loss scale): the masters are what is reduced, so each layer's
  // gradients go into them as soon as its backward is queued (train_step's finish_backward
  // then has nothing left to do).
  if (graph->mixed_precision() || scaler->scale() != 1.0) graph->finish_backward_per_layer(1.0 / scaler->scale());
  dp->arm_overlap(graph->gradients());
}

std::string Trainer::Impl::why_no_step_capture() const {
  if (!dp || graph->device().is_cpu()) return "";
  if (bn_sync) return "train.sync_batchnorm reads batch statistics back to the host in forward and backward";
  if (overlap_allreduce)
    return "the overlapped all-reduce is queued by backward's host code (train.allreduce_overlap: "
           "false captures the steps and reduces after backward)";
  return "";
}

void Trainer::Impl::finish_overlapped_allreduce() {
  if (overlap_allreduce) dp->finish_overlap();
}

void Trainer::Impl::sync_buffers() {
  if (dp) dp->average_buffers(buffers);
}

EvalResult Trainer::Impl::validate() {
  sync_buffers();  // every rank evaluates with the same running statistics
  EvalResult r = evaluate(*graph, *val_loader, info.mean, info.std);
  if (dp) combine_eval(*dp, r);
  return r;
}

Graph& Trainer::graph() { return *impl_->graph; }

bool Trainer::Impl::stop_agreed() {
  if (!dp) return stop_requested();
  // A signal may reach the ranks at different steps: the step's collectives would hang if
  // only some of them stopped. One flag summed over the ranks decides for all.
  double stop = stop_requested() ? 1.0 : 0.0;
  dp->comm().allreduce_sum(&stop, 1);
  if (stop > 0 && !stop_requested()) request_stop(SIGTERM);
  return stop > 0;
}

}  // namespace te
