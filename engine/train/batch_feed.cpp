#include "engine/train/batch_feed.h"

#include <string>
#include <utility>

#include "engine/core/error.h"
#include "kernels/normalize.h"
#include "kernels/upload.h"

namespace te {

BatchFeed::BatchFeed(DataLoader& loader, Device device, std::vector<float> mean,
                     std::vector<float> std, DType input_dtype, Layout layout)
    : loader_(loader), device_(device), mean_(std::move(mean)), std_(std::move(std)),
      input_dtype_(input_dtype), layout_(layout) {}

void BatchFeed::start_epoch(int64_t batches) {
  // Uploads of the previous epoch may still read host buffers that are about to be replaced.
  if (!device_.is_cpu()) ops::wait_uploads(device_);
  left_ = batches;
  delivered_ = 0;
  current_ = 0;
  released_ = -1;
  filled_[0] = filled_[1] = false;
  if (left_ > 0 && !device_.is_cpu()) fetch(0);
}

void BatchFeed::fetch(int slot) {
  // The slot's host buffer was uploaded two batches ago; make sure that copy is done.
  ops::wait_uploads(device_);
  filled_[slot] = loader_.next(host_[slot]);
  if (!filled_[slot]) return;
  DeviceBatch& d = device_batch_[slot];
  const Shape& s = host_[slot].images.shape();  // [N, H, W, C] uint8
  const void* images_before = d.images_u8.defined() ? d.images_u8.raw() : nullptr;
  const void* labels_before = d.labels.defined() ? d.labels.raw() : nullptr;
  ensure_shape(d.images_u8, s, DType::U8, device_);
  ensure_shape(d.labels, host_[slot].labels.shape(), DType::I32, device_);
  // New device memory may be a block that work queued on the compute stream still reads: the
  // caching allocator orders reuse on the compute stream only, and this copy runs on the copy
  // stream. Moving the slot's release point to now makes the copy wait for all of it.
  if (d.images_u8.raw() != images_before || d.labels.raw() != labels_before)
    ops::release_upload_slot(device_, slot);
  ops::upload_async(host_[slot].images, d.images_u8, slot);
  ops::upload_async(host_[slot].labels, d.labels, slot);
}

const DeviceBatch& BatchFeed::next() {
  if (left_ <= 0) throw Error("BatchFeed::next: the epoch's batches are used up");
  const int slot = current_;
  if (device_.is_cpu()) {
    filled_[slot] = loader_.next(host_[slot]);
  }
  if (!filled_[slot])
    throw Error("the data loader ended the epoch early (after " + std::to_string(delivered_) +
                " batches, " + std::to_string(delivered_ + left_) + " expected)");
  DeviceBatch& d = device_batch_[slot];
  const Shape& s = host_[slot].images.shape();
  ensure_shape(d.input, Shape{s[0], s[3], s[1], s[2]}, input_dtype_, device_);
  if (device_.is_cpu()) {
    ops::normalize_images(host_[slot].images, d.input, mean_, std_, layout_);
    d.labels = host_[slot].labels;
  } else {
    ops::use_upload_slot(device_, slot);
    ops::normalize_images(d.images_u8, d.input, mean_, std_, layout_);
    // The copy of the batch after this one overlaps this one's compute.
    if (left_ > 1) fetch(slot ^ 1);
  }
  released_ = slot;
  current_ = device_.is_cpu() ? slot : slot ^ 1;
  --left_;
  ++delivered_;
  return d;
}

void BatchFeed::release() {
  if (released_ < 0) return;
  if (!device_.is_cpu()) ops::release_upload_slot(device_, released_);
  released_ = -1;
}

}  // namespace te
