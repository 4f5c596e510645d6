#pragma once
// The training step's input: the loader's batches, on the step's device and normalised. On a
// GPU the next batch's host->device copy runs on the copy stream while the current batch
// computes, through two alternating device buffers (kernels/upload.h); on the CPU batches are
// normalised straight from the loader's memory.
//
//   feed.start_epoch(batches);          // after loader.start_epoch; batches = next() calls to come
//   const DeviceBatch& b = feed.next(); // forward, loss, backward on b ...
//   feed.release();                     // ... then b's buffers may be overwritten
#include <vector>

#include "engine/data/loader.h"
#include "engine/train/evaluate.h"

namespace te {

class BatchFeed {
 public:
  // input_dtype and layout: what the graph reads (its compute dtype and layout).
  BatchFeed(DataLoader& loader, Device device, std::vector<float> mean, std::vector<float> std,
            DType input_dtype = DType::F32, Layout layout = Layout::NCHW);

  void start_epoch(int64_t batches);
  // Throws te::Error when the loader ends before `batches` batches.
  const DeviceBatch& next();
  // The last batch from next() has been read by every operation that needs it.
  void release();
  // The upload slot (0 or 1) of the last batch from next(): its device buffers' identity.
  int slot() const { return released_; }

 private:
  // Takes the loader's next batch into slot's host buffer and starts its upload.
  void fetch(int slot);

  DataLoader& loader_;
  Device device_;
  std::vector<float> mean_, std_;
  DType input_dtype_;
  Layout layout_;
  Batch host_[2];
  DeviceBatch device_batch_[2];
  bool filled_[2] = {false, false};
  int current_ = 0;          // the slot next() returns
  int released_ = -1;        // the slot release() frees
  int64_t left_ = 0;         // next() calls left this epoch
  int64_t delivered_ = 0;    // next() calls so far this epoch, for messages
};

}  // namespace te
