// The rules cudnn_conv.cpp follows to plan convolutions and bind them to the device
// (kernels/cuda/conv_plan_cache.h), over a scripted fake builder: they decide how often cuDNN's
// heuristics run and which binding a plan gets, which no test without a GPU could see through
// cuDNN itself.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "kernels/cuda/conv_plan_cache.h"

namespace te::cuda {
namespace {

struct FakePlan {
  ConvBinding binding;
};

// What each binding answers per key: a plan, no plan, or an exception (binding refused).
enum class Answer { Plan, None, Throw };

struct FakeCudnn {
  std::map<std::string, Answer> device_prop, handle;  // default: Plan
  int builds = 0;
  ConvPlanCache<FakePlan>::Builder builder(const std::string& key) {
    return [this, key](ConvBinding b, std::string& why) -> std::unique_ptr<FakePlan> {
      ++builds;
      auto& table = b == ConvBinding::DeviceProp ? device_prop : handle;
      const auto it = table.find(key);
      const Answer a = it == table.end() ? Answer::Plan : it->second;
      if (a == Answer::Throw) throw std::runtime_error("CUDNN_STATUS_BAD_PARAM");
      if (a == Answer::None) {
        why = b == ConvBinding::DeviceProp ? "no engine (device props)" : "no engine (handle)";
        return nullptr;
      }
      return std::make_unique<FakePlan>(FakePlan{b});
    };
  }
};

TEST(ConvPlanCache, PlansOncePerKeyThroughDeviceProperties) {
  FakeCudnn cudnn;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  auto a = cache.get("a", false, cudnn.builder("a"), why);
  auto again = cache.get("a", false, cudnn.builder("a"), why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a, again);
  EXPECT_EQ(a->binding, ConvBinding::DeviceProp);
  EXPECT_EQ(cudnn.builds, 1);
}

// A shape whose engines finalize only with the handle gets a handle plan, even after other
// shapes succeeded through device properties; those keep their binding.
TEST(ConvPlanCache, AShapeWithoutDevicePropertyEnginesFallsBackToTheHandleAlone) {
  FakeCudnn cudnn;
  cudnn.device_prop["b"] = Answer::None;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  auto a = cache.get("a", false, cudnn.builder("a"), why);
  cache.executed(*a);
  auto b = cache.get("b", false, cudnn.builder("b"), why);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->binding, ConvBinding::Handle);
  auto c = cache.get("c", false, cudnn.builder("c"), why);
  EXPECT_EQ(c->binding, ConvBinding::DeviceProp);
  EXPECT_TRUE(cache.device_prop_enabled());
  EXPECT_EQ(cache.count(ConvBinding::DeviceProp), 2u);
  EXPECT_EQ(cache.count(ConvBinding::Handle), 1u);
}

TEST(ConvPlanCache, NoEngineIsRememberedOnlyWhereTheCallHasAFallback) {
  FakeCudnn cudnn;
  cudnn.device_prop["x"] = cudnn.handle["x"] = Answer::None;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  EXPECT_FALSE(cache.get("x", false, cudnn.builder("x"), why));
  EXPECT_NE(why.find("no engine (device props); through the handle: no engine (handle)"),
            std::string::npos)
      << why;
  EXPECT_FALSE(cache.get("x", false, cudnn.builder("x"), why));
  EXPECT_EQ(cudnn.builds, 4);  // no fallback: planned again (the caller throws anyway)
  EXPECT_FALSE(cache.get("x", true, cudnn.builder("x"), why));
  EXPECT_FALSE(cache.get("x", true, cudnn.builder("x"), why));
  EXPECT_EQ(cudnn.builds, 6);  // remembered after the first call that has a fallback
  EXPECT_EQ(why, "no engine (cached)");
}

// The blend into an existing output (beta != 0: input-gradient accumulation, filter-gradient
// accumulation) has the scratch-and-add fallback, as NHWC activations with a KCRS filter have
// the KRSC copy; the rest has none.
TEST(ConvPlanCache, WhichCallsHaveAFallback) {
  EXPECT_TRUE(no_engine_has_fallback(true, 0.0f));
  EXPECT_TRUE(no_engine_has_fallback(false, 1.0f));
  EXPECT_TRUE(no_engine_has_fallback(true, 1.0f));
  EXPECT_FALSE(no_engine_has_fallback(false, 0.0f));
}

TEST(ConvPlanCache, ACudnnWithoutDevicePropertiesUsesTheHandleFromThenOn) {
  FakeCudnn cudnn;
  cudnn.device_prop["a"] = Answer::Throw;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  auto a = cache.get("a", false, cudnn.builder("a"), why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->binding, ConvBinding::Handle);
  EXPECT_FALSE(cache.device_prop_enabled());
  cudnn.builds = 0;
  auto b = cache.get("b", false, cudnn.builder("b"), why);
  EXPECT_EQ(b->binding, ConvBinding::Handle);
  EXPECT_EQ(cudnn.builds, 1);  // device properties not tried again
}

TEST(ConvPlanCache, AnErrorAfterDevicePropertyPlansRanIsThrownNotAFallback) {
  FakeCudnn cudnn;
  cudnn.device_prop["b"] = Answer::Throw;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  cache.executed(*cache.get("a", false, cudnn.builder("a"), why));
  EXPECT_THROW(cache.get("b", false, cudnn.builder("b"), why), std::runtime_error);
  EXPECT_TRUE(cache.device_prop_enabled());
}

TEST(ConvPlanCache, BuildsWithoutDevicePropertiesOnlyUseTheHandle) {
  FakeCudnn cudnn;
  ConvPlanCache<FakePlan> cache(false);
  std::string why;
  EXPECT_EQ(cache.get("a", false, cudnn.builder("a"), why)->binding, ConvBinding::Handle);
  EXPECT_EQ(cudnn.builds, 1);
}

// cuDNN refusing to execute the first device-properties plan: every plan is rebuilt through
// the handle, once; after a device-properties plan has run, a refusal is the caller's error.
TEST(ConvPlanCache, ARefusedFirstExecutionSwitchesToTheHandleOnce) {
  FakeCudnn cudnn;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  auto a = cache.get("a", false, cudnn.builder("a"), why);
  EXPECT_TRUE(cache.execution_refused(*a));
  EXPECT_EQ(cache.size(), 0u);
  auto again = cache.get("a", false, cudnn.builder("a"), why);
  EXPECT_EQ(again->binding, ConvBinding::Handle);
  EXPECT_FALSE(cache.execution_refused(*again));  // no second fallback
  EXPECT_FALSE(cache.execution_refused(*a));
}

TEST(ConvPlanCache, ARefusalAfterADevicePropertyPlanRanIsNotRetried) {
  FakeCudnn cudnn;
  ConvPlanCache<FakePlan> cache(true);
  std::string why;
  auto a = cache.get("a", false, cudnn.builder("a"), why);
  auto b = cache.get("b", false, cudnn.builder("b"), why);
  cache.executed(*a);
  EXPECT_FALSE(cache.execution_refused(*b));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.device_prop_enabled());
}

}  // namespace
}  // namespace te::cuda
