#pragma once
// What cudnn_conv.cpp remembers about convolution shapes, and how it binds plans to the device.
// No cuDNN in here, so the rules are tested without a GPU (tests/emu/conv_plan_cache_test.cpp).
//
// Binding: cuDNN >= 9.8 binds heuristics and plans to a device-properties descriptor
// (DeviceProp); the older binding through the handle is deprecated but still works. Each shape
// tries DeviceProp first and the handle when DeviceProp gave no plan, so a shape whose engines
// only finalize with the handle still gets one after other shapes succeeded the new way. Only
// two events give DeviceProp up for the whole process: its builder throwing (this cuDNN does not
// know the attributes), or cuDNN refusing to execute a DeviceProp plan before any DeviceProp
// plan ever executed (then every cached plan is dropped and rebuilt through the handle, once).
// Errors that are not cuDNN's verdict on the plan (an out-of-memory for the workspace, say) are
// the caller's to throw and change nothing here.
//
// "No engine" is remembered only for calls that have a fallback (a KRSC filter copy, scratch
// plus add): the first no-engine answer for a key is final once the binding question is settled.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace te::cuda {

enum class ConvBinding { DeviceProp, Handle };

template <class Plan>  // Plan has a member `ConvBinding binding`
class ConvPlanCache {
 public:
  // Builds a plan with `binding`, or returns nullptr with `why`; throws when the binding itself
  // is refused (only DeviceProp may be refused like that).
  using Builder = std::function<std::unique_ptr<Plan>(ConvBinding, std::string& why)>;

  explicit ConvPlanCache(bool device_prop_supported) : device_prop_(device_prop_supported) {}

  // The plan for `key`, built on first use; nullptr when no binding gave one (`why` says why).
  std::shared_ptr<Plan> get(const std::string& key, bool remember_none, const Builder& build,
                            std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) {
      if (!it->second) why = "no engine (cached)";
      return it->second;
    }
    std::unique_ptr<Plan> plan;
    if (device_prop_) {
      try {
        plan = build(ConvBinding::DeviceProp, why);
      } catch (...) {
        // This cuDNN refuses the device-properties attributes: the handle from now on, unless
        // DeviceProp plans already ran (then the error is about this shape and is thrown).
        if (device_prop_executed_) throw;
        device_prop_ = false;
      }
    }
    if (!plan) {
      std::string why_handle;
      plan = build(ConvBinding::Handle, why_handle);
      if (!plan) why += (why.empty() ? "" : "; through the handle: ") + why_handle;
    }
    std::shared_ptr<Plan> shared(std::move(plan));
    if (shared || remember_none) plans_.emplace(key, shared);
    return shared;
  }

  void executed(const Plan& plan) {
    if (plan.binding == ConvBinding::DeviceProp) device_prop_executed_ = true;
  }

  // cuDNN refused to execute `plan`. True when the caller should plan again and retry: a
  // DeviceProp plan before any DeviceProp plan ran switches the process to the handle.
  bool execution_refused(const Plan& plan) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (plan.binding != ConvBinding::DeviceProp || device_prop_executed_ || !device_prop_)
      return false;
    device_prop_ = false;
    plans_.clear();
    return true;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_.size();
  }
  // Plans in the cache bound each way.
  size_t count(ConvBinding binding) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& [key, plan] : plans_) n += plan && plan->binding == binding;
    return n;
  }
  bool device_prop_enabled() const { return device_prop_; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Plan>> plans_;
  std::atomic<bool> device_prop_;
  std::atomic<bool> device_prop_executed_{false};
};

// Whether a convolution call that finds no engine has another way to run (so "no engine" is
// worth caching): NHWC activations with the KCRS filter (a KRSC copy), or a blend into the
// output, beta != 0 (the convolution into scratch, then an add).
inline bool no_engine_has_fallback(bool nhwc_with_kcrs_filter, float beta) {
  return nhwc_with_kcrs_filter || beta != 0.0f;
}

}  // namespace te::cuda
