// The training loop (construction is in trainer_setup.cpp).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include "engine/optim/grad_clip.h"
#include "engine/train/checkpoint.h"
#include "engine/train/evaluate.h"
#include "engine/train/interrupt.h"
#include "engine/train/trainer_impl.h"
#include "kernels/cast.h"

namespace te {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

}  // namespace

void Trainer::Impl::micro_batch_work(const DeviceBatch& b, int64_t micro, const RunContext& ctx,
                                     double grad_scale) {
  const Tensor& logits = graph->forward(b.input, ctx);
  ensure_shape(grad_logits, logits.shape(), logits.dtype(), logits.device());
  Tensor loss_sum = step_loss.slice_flat(micro, Shape{1});
  if (logits.dtype() == DType::F32) {
    loss->forward_backward(logits, b.labels, grad_scale, grad_logits, loss_sum, step_correct,
                           bad_label_row);
  } else {  // mixed precision: the [N, classes] loss in f32, its gradient back to 16 bits
    ensure_shape(logits32, logits.shape(), DType::F32, logits.device());
    ensure_shape(grad_logits32, logits.shape(), DType::F32, logits.device());
    ops::cast_scale(logits, logits32, 1.0);
    loss->forward_backward(logits32, b.labels, grad_scale, grad_logits32, loss_sum, step_correct,
                           bad_label_row);
    ops::cast_scale(grad_logits32, grad_logits, 1.0);
  }
  graph->backward(grad_logits, ctx);
}

Trainer::Impl::StepResult Trainer::Impl::train_step() {
  StepResult r;
  const int64_t accum = config.train.grad_accum;
  for (size_t i = 0; i < buffers.size(); ++i) buffer_backup[i].copy_from(buffers[i].tensor);
  graph->zero_grad();
  // The loss and the accuracy stay on the device until the step's end: nothing in the loop
  // below waits for the GPU, so the host queues the whole step while the next batch uploads.
  const Device device = graph->device();
  ensure_shape(step_loss, Shape{accum}, DType::F64, device);
  ensure_shape(step_correct, Shape{1}, DType::I64, device);
  if (!bad_label_row.defined()) {
    bad_label_row = Tensor::empty(Shape{1}, DType::I32, device);
    bad_label_row.fill(-1);
  }
  step_correct.zero();
  std::vector<int64_t> rows(static_cast<size_t>(accum), 0);
  for (int64_t micro = 0; micro < accum; ++micro) {
    const DeviceBatch& b = feed->next();
    RunContext ctx;
    ctx.training = true;
    ctx.seed = state.seed;
    ctx.batch_stats_sync = bn_sync.get();  // train.sync_batchnorm under data parallelism
    // Distinct per micro-batch, identical between a run and its resumption.
    ctx.step = static_cast<uint64_t>(state.step * accum + micro);
    // The loss scale (fp16) multiplies every gradient; finish_backward divides it out again.
    const double grad_scale = scaler->scale() / static_cast<double>(accum);
    StepKey key;
    key.slot = feed->slot();
    key.micro = micro;
    key.rows = b.labels.dim(0);
    key.arena = graph->arena_address();
    key.input = b.input.raw();
    key.loss_scale = scaler->scale();
    arm_overlapped_allreduce(micro);
    step_capture->run(key, [&] { micro_batch_work(b, micro, ctx, grad_scale); });
    feed->release();
    rows[static_cast<size_t>(micro)] = b.labels.dim(0);
    r.images += b.labels.dim(0);
  }
  finish_overlapped_allreduce();  // before the step's other collectives
  // Each read below waits for the device.
  const int32_t bad_row = bad_label_row.to(Device::cpu()).data<int32_t>()[0];
  if (bad_row >= 0)
    throw DataError("a label outside [0, " + std::to_string(info.class_names.size()) +
                    ") reached the loss (row " + std::to_string(bad_row) + " of a batch in step " +
                    std::to_string(state.step + 1) + "); the data set's labels do not match model.num_classes");
  const std::vector<double> loss_sums = step_loss.to_f64_vector();
  r.correct = step_correct.to(Device::cpu()).data<int64_t>()[0];
  for (int64_t micro = 0; micro < accum; ++micro)
    r.loss += loss_sums[static_cast<size_t>(micro)] /
              static_cast<double>(rows[static_cast<size_t>(micro)] * accum);
  reduce_step(r);  // data parallelism: the loss and counts over all ranks, so all decide alike
  bool finite = std::isfinite(r.loss);
  // Mixed precision: the gradients into the f32 masters, unscaled.
  graph->finish_backward(1.0 / scaler->scale());
  if (finite) average_gradients();  // data parallelism: once per optimizer step (if not overlapped)
  r.lr = schedule->lr_at(state.step);
  // One reduction over the gradients per step (each is a pass and, on a GPU, a sync). The norm
  // is summed in double, so it is finite exactly when every gradient is: it doubles as the
  // finiteness check, and clip_grad_norm leaves non-finite gradients untouched.
  if (finite) {
    Tensor& grads = graph->gradients();
    if (config.train.grad_clip > 0) {
      r.grad_norm = clip_grad_norm(grads, config.train.grad_clip);
      finite = std::isfinite(r.grad_norm);
    } else if ((state.step + 1) % config.logging.every_steps == 0) {
      r.grad_norm = global_grad_norm(grads);
      finite = std::isfinite(r.grad_norm);
    } else {
      finite = all_finite(grads);
    }
  }
  if (scaler->enabled()) {
    // An overflow at a scale above 1 is the scale's fault, not the model's: back off and
    // retry with the next batch. Below 1 it counts as divergence like any other bad step.
    r.overflow = !finite && scaler->scale() > 1.0;
    scaler->update(finite);
  }
  if (!finite) {  // r.ok stays false: the step is skipped
    r.grad_norm = -1;  // not logged
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].tensor.copy_from(buffer_backup[i]);
    return r;
  }
  optimizer->step(graph->parameters(), graph->gradients(), r.lr);
  graph->sync_compute_params();  // mixed precision: the layers' bf16/f16 copies
  r.ok = true;
  return r;
}

void Trainer::Impl::save(const char* why) {
  sync_buffers();  // data parallelism: the same running statistics on every rank
  if (!root()) return dp->comm().barrier();  // rank 0 writes; the others wait for it
  state.loss_scale = scaler->scale();
  state.loss_scale_clean_steps = scaler->clean_steps();
  const CheckpointFiles files = checkpoint_files(run, state.epoch, state.step);
  try {
    save_checkpoint(files, *graph, *optimizer, info, state);
  } catch (const IoError& e) {
    const auto kept = latest_checkpoint(run);
    throw IoError(std::string(e.what()) + "; checkpoint at step " + std::to_string(state.step) +
                  " not written, the run stops. " +
                  (kept ? "The earlier checkpoints are intact (newest: " + kept->weights +
                              "): free space, then continue with `trainer --resume " + run.root + "`"
                        : std::string("No earlier checkpoint exists")));
  }
  prune_checkpoints(run, config.checkpoint.keep);
  spdlog::info("checkpoint ({}): {}", why, files.weights);
  if (dp) dp->comm().barrier();
}

void Trainer::Impl::log_step_record(double loss_value, double lr, double images_per_s,
                                    double grad_norm) {
  if (!metrics) return;  // data parallelism: rank 0 writes the metrics
  nlohmann::json rec = {{"type", "step"},   {"epoch", state.epoch + 1}, {"step", state.step},
                        {"loss", loss_value}, {"lr", lr},             {"images_per_s", images_per_s}};
  if (grad_norm >= 0) rec["grad_norm"] = grad_norm;
  metrics->write(rec);
  if (tensorboard) {
    tensorboard->add_scalar("step/loss", loss_value, state.step);
    tensorboard->add_scalar("step/lr", lr, state.step);
    tensorboard->add_scalar("step/images_per_s", images_per_s, state.step);
    tensorboard->flush();
  }
}

TrainSummary Trainer::run() {
  Impl& m = *impl_;
  const RunConfig& c = m.config;
  const int64_t accum = c.train.grad_accum;
  const auto run_start = Clock::now();
  TrainSummary summary;
  double run_train_seconds = 0;
  int64_t run_images = 0;

  while (m.state.epoch < c.train.epochs) {
    TrainingState& s = m.state;
    const int64_t first_step = s.batch / accum;
    m.train_loader->start_epoch(s.epoch, s.batch);
    m.feed->start_epoch((m.steps_per_epoch - first_step) * accum);
    m.progress->start_epoch(s.epoch, c.train.epochs, m.steps_per_epoch, first_step);
    double interval_loss = 0;
    int64_t interval_steps = 0, interval_images = 0;
    auto interval_start = Clock::now();
    double lr = m.schedule->lr_at(s.step);

    for (int64_t k = first_step; k < m.steps_per_epoch; ++k) {
      const auto step_start = Clock::now();
      const Impl::StepResult r = m.train_step();
      const double dt = seconds_since(step_start);
      lr = r.lr;
      s.batch += accum;
      s.step += 1;
      s.epoch_seconds += dt;
      s.epoch_images += r.images;
      run_train_seconds += dt;
      run_images += r.images;
      if (r.overflow) {
        s.skipped_steps++;
        spdlog::info("epoch {} step {}: fp16 gradients overflowed; step skipped, loss scale now {}",
                     s.epoch + 1, s.step, m.scaler->scale());
      } else if (!r.ok) {
        s.bad_steps++;
        s.skipped_steps++;
        spdlog::warn("epoch {} step {}: non-finite loss or gradient; skipping this step ({} in a row)",
                     s.epoch + 1, s.step, s.bad_steps);
        if (s.bad_steps >= c.train.max_bad_steps)
          throw TrainingDiverged(
              "training diverged: the loss or the gradients were not finite for " +
              std::to_string(s.bad_steps) + " consecutive steps (up to epoch " +
              std::to_string(s.epoch + 1) + ", step " + std::to_string(s.step) +
              "). The learning rate " + std::to_string(lr) + " (optim.lr = " +
              std::to_string(c.optim.lr) + ") is probably too high: try a lower one, e.g. --set optim.lr=" +
              std::to_string(c.optim.lr / 10) + ", or gradient clipping (train.grad_clip: 1.0)");
      } else {
        s.bad_steps = 0;
        s.epoch_loss_sum += r.loss;
        s.epoch_loss_count += 1;
        s.epoch_correct += r.correct;
        interval_loss += r.loss;
        interval_steps += 1;
      }
      interval_images += r.images;
      const double ips = s.epoch_seconds > 0 ? s.epoch_images / s.epoch_seconds : 0;
      m.progress->update(k + 1, s.epoch_loss_count ? s.epoch_loss_sum / s.epoch_loss_count : NAN,
                         lr, ips);
      if (m.options.on_record) {
        const double acc = r.ok && r.images ? static_cast<double>(r.correct) / r.images : NAN;
        m.options.on_record({{"type", "step"}, {"epoch", s.epoch + 1}, {"step", s.step},
                             {"step_in_epoch", k + 1}, {"steps_per_epoch", m.steps_per_epoch},
                             {"loss", r.ok ? r.loss : NAN}, {"accuracy", acc}, {"lr", lr},
                             {"images_per_s", ips}, {"skipped", !r.ok}});
      }
      if (s.step % c.logging.every_steps == 0 && interval_steps > 0) {
        m.log_step_record(interval_loss / interval_steps, lr,
                          interval_images / std::max(seconds_since(interval_start), 1e-9), r.grad_norm);
        interval_loss = 0;
        interval_steps = 0;
        interval_images = 0;
        interval_start = Clock::now();
      }
      const bool last_step = k + 1 == m.steps_per_epoch;
      if (c.checkpoint.every_steps > 0 && s.step % c.checkpoint.every_steps == 0 && !last_step)
        m.save("every_steps");
      if (m.options.stop_at_step > 0 && s.step == m.options.stop_at_step) request_stop(SIGTERM);
      if (m.stop_agreed()) {
        m.progress->end_epoch();
        const int sig = stop_signal();
        m.save("interrupted");
        throw Interrupted(sig, std::string("stopped by ") + signal_name(sig) + " after step " +
                                   std::to_string(s.step) + " (epoch " + std::to_string(s.epoch + 1) +
                                   "); continue with: trainer --resume " + m.run.root);
      }
    }
    m.progress->end_epoch();

    // The epoch is complete: its record, validation, best model, checkpoint.
    const int64_t epoch_number = s.epoch + 1;
    const double train_loss = s.epoch_loss_count ? s.epoch_loss_sum / s.epoch_loss_count : NAN;
    const double train_acc = s.epoch_images ? static_cast<double>(s.epoch_correct) / s.epoch_images : 0;
    const double ips = s.epoch_seconds > 0 ? s.epoch_images / s.epoch_seconds : 0;
    const int64_t skipped_files = m.train_loader->epoch_skipped_files();
    const std::string skipped_text =
        skipped_files > 0
            ? " | " + std::to_string(skipped_files) + " unreadable files skipped this epoch"
            : "";
    nlohmann::json rec = {{"type", "epoch"},          {"epoch", epoch_number},
                          {"step", s.step},           {"train_loss", train_loss},
                          {"train_accuracy", train_acc}, {"lr", lr},
                          {"images_per_s", ips},      {"seconds", s.epoch_seconds},
                          {"skipped_files", skipped_files}};
    const bool validate = m.val_loader &&
                          (epoch_number % c.train.eval_every_epochs == 0 || epoch_number == c.train.epochs);
    bool is_best = false;
    if (validate) {
      const EvalResult v = m.validate();
      rec["val_loss"] = v.loss;
      rec["val_accuracy"] = v.accuracy;
      summary.validated = true;
      summary.val_loss = v.loss;
      summary.val_accuracy = v.accuracy;
      const bool by_loss = c.checkpoint.best_metric == "val_loss";
      const double metric = by_loss ? v.loss : v.accuracy;
      is_best = s.best_epoch < 0 || (by_loss ? metric < s.best_metric : metric > s.best_metric);
      if (is_best) {
        s.best_metric = metric;
        s.best_epoch = epoch_number;
        if (m.root()) save_weights(m.run.best_weights(), *m.graph, m.info);
      }
      spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.4f} | val loss {:.4f} acc {:.4f}{} | "
                   "lr {:.5g} | {:.0f} img/s | {:.1f} s{}",
                   epoch_number, c.train.epochs, train_loss, train_acc, v.loss, v.accuracy,
                   is_best ? " (best)" : "", lr, ips, s.epoch_seconds, skipped_text);
    } else {
      rec["val_loss"] = nullptr;
      rec["val_accuracy"] = nullptr;
      spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.4f} | lr {:.5g} | {:.0f} img/s | {:.1f} s{}",
                   epoch_number, c.train.epochs, train_loss, train_acc, lr, ips, s.epoch_seconds,
                   skipped_text);
    }
    rec["best"] = is_best;
    if (m.metrics) m.metrics->write(rec);
    if (m.options.on_record) m.options.on_record(rec);
    if (m.tensorboard) {
      m.tensorboard->add_scalar("epoch/train_loss", train_loss, epoch_number);
      m.tensorboard->add_scalar("epoch/train_accuracy", train_acc, epoch_number);
      m.tensorboard->add_scalar("epoch/lr", lr, epoch_number);
      m.tensorboard->add_scalar("epoch/images_per_s", ips, epoch_number);
      if (validate) {
        m.tensorboard->add_scalar("epoch/val_loss", summary.val_loss, epoch_number);
        m.tensorboard->add_scalar("epoch/val_accuracy", summary.val_accuracy, epoch_number);
      }
      m.tensorboard->flush();
    }
    summary.train_loss = train_loss;

    // Advance to the next epoch before saving, so the checkpoint resumes there.
    s.epoch += 1;
    s.batch = 0;
    s.epoch_loss_sum = 0;
    s.epoch_loss_count = 0;
    s.epoch_images = 0;
    s.epoch_correct = 0;
    s.epoch_seconds = 0;
    const bool stop_now = m.stop_agreed();
    const bool last_epoch = s.epoch == c.train.epochs;
    const bool periodic = c.checkpoint.every_epochs > 0 && s.epoch % c.checkpoint.every_epochs == 0;
    if (last_epoch || periodic || stop_now) m.save(last_epoch ? "final" : "epoch");
    if (stop_now && !last_epoch) {
      const int sig = stop_signal();
      throw Interrupted(sig, std::string("stopped by ") + signal_name(sig) + " after epoch " +
                                 std::to_string(s.epoch) + "; continue with: trainer --resume " +
                                 m.run.root);
    }
  }

  summary.epochs = m.state.epoch;
  summary.steps = m.state.step;
  summary.skipped_steps = m.state.skipped_steps;
  summary.skipped_files = m.train_loader->skipped_files();
  summary.best_metric = m.state.best_metric;
  summary.best_epoch = m.state.best_epoch;
  summary.seconds = seconds_since(run_start);
  summary.images_per_s = run_train_seconds > 0 ? run_images / run_train_seconds : 0;
  if (m.dp) summary.overlapped_buckets = m.dp->overlap_early_buckets();
  if (m.step_capture) {
    summary.replayed_micro_batches = m.step_capture->replays();
    summary.graph_captures = m.step_capture->captures();
  }
  if (m.state.best_epoch >= 0) summary.best_weights = m.run.best_weights();
  if (auto last = latest_checkpoint(m.run)) summary.last_weights = last->weights;
  return summary;
}

}  // namespace te
