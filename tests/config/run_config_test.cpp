// The strict run config: every error kind names file, line and key; defaults; overrides; the
// resolved config round-trips.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/config/run_config.h"
#include "engine/core/error.h"

namespace te {
namespace {

const char* kMinimal = "data:\n  train: /tmp/train\n  val: /tmp/val\n";

// The message of the ConfigError that parsing `yaml` (with `overrides`) throws.
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_run_config(yaml, "run.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return "";
}

TEST(RunConfig, ThreeLineConfigGetsEveryDefault) {
  const RunConfig c = parse_run_config(kMinimal, "run.yaml");
  EXPECT_EQ(c.data.train, "/tmp/train");
  EXPECT_EQ(c.data.val, "/tmp/val");
  EXPECT_EQ(c.data.image_size, 128);
  EXPECT_EQ(c.data.batch_size, 64);
  EXPECT_EQ(c.data.eval_batch_size, 64);
  EXPECT_EQ(c.optim.type, "sgd");
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.1);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 5e-4);
  EXPECT_EQ(c.schedule.type, "cosine");
  EXPECT_EQ(c.train.epochs, 30);
  EXPECT_EQ(c.train.grad_accum, 1);
  EXPECT_DOUBLE_EQ(c.train.label_smoothing, 0.1);
  EXPECT_EQ(c.checkpoint.keep, 3);
  EXPECT_EQ(c.logging.every_steps, 50);
  EXPECT_TRUE(c.logging.tensorboard);
  EXPECT_EQ(c.model["preset"].as<std::string>(), "resnet18");
}

TEST(RunConfig, GpuNumericsSwitches) {
  const RunConfig d = parse_run_config(kMinimal, "run.yaml");
  EXPECT_FALSE(d.train.deterministic);
  EXPECT_TRUE(d.train.allow_tf32);
  const RunConfig c = parse_run_config(kMinimal, "run.yaml",
                                       {"train.deterministic=true", "train.allow_tf32=false"});
  EXPECT_TRUE(c.train.deterministic);
  EXPECT_FALSE(c.train.allow_tf32);
  EXPECT_NE(error_of(kMinimal, {"train.deterministic=maybe"}).find("train.deterministic"),
            std::string::npos);
}

TEST(RunConfig, ValuesFromTheFileAreRead) {
  const RunConfig c = parse_run_config(
      "model: {preset: resnet9, num_classes: 10}\n"
      "data: {train: a, image_size: 32, batch_size: 16, augment: {hflip: false, pad_crop: 4}}\n"
      "optim: {type: adamw, lr: 0.003, weight_decay: 0.05}\n"
      "schedule: {type: onecycle, warmup_epochs: 0}\n"
      "train: {epochs: 3, grad_accum: 4, grad_clip: 1.5, seed: 7}\n",
      "run.yaml");
  EXPECT_EQ(c.model["preset"].as<std::string>(), "resnet9");
  EXPECT_EQ(c.model["num_classes"].as<int>(), 10);
  EXPECT_EQ(c.data.image_size, 32);
  EXPECT_FALSE(c.data.hflip);
  EXPECT_EQ(c.data.pad_crop, 4);
  EXPECT_TRUE(c.data.val.empty());
  EXPECT_EQ(c.optim.type, "adamw");
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.003);
  EXPECT_EQ(c.schedule.type, "onecycle");
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.train.grad_accum, 4);
  EXPECT_DOUBLE_EQ(c.train.grad_clip, 1.5);
  EXPECT_EQ(c.train.seed, 7u);
}

TEST(RunConfig, TypoSuggestsTheClosestKeyWithFileAndLine) {
  const std::string msg =
      error_of("data:\n  train: a\noptim:\n  type: sgd\n  learning_rat: 0.1\n");
  EXPECT_NE(msg.find("run.yaml:5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'optim.learning_rat'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'lr'"), std::string::npos) << msg;
}

TEST(RunConfig, UnknownSectionIsRejected) {
  const std::string msg = error_of("data: {train: a}\ntrian: {epochs: 3}\n");
  EXPECT_NE(msg.find("run.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train'"), std::string::npos) << msg;
}

TEST(RunConfig, WrongTypeNamesKeyAndExpectation) {
  const std::string msg = error_of("data:\n  train: a\n  batch_size: lots\n");
  EXPECT_NE(msg.find("run.yaml:3: key 'data.batch_size'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'lots'"), std::string::npos) << msg;
  const std::string b = error_of("data: {train: a}\nlogging: {tensorboard: maybe}\n");
  EXPECT_NE(b.find("key 'logging.tensorboard': expected true or false"), std::string::npos) << b;
  const std::string s = error_of("data: {train: a}\ndata2: 1\n");
  EXPECT_NE(s.find("unknown key 'data2'"), std::string::npos) << s;
  const std::string sec = error_of("data: 5\n");
  EXPECT_NE(sec.find("key 'data': expected a mapping"), std::string::npos) << sec;
}

// The data-parallel keys: defaults (overlap on, per-rank batch norm, f32 on the wire), values,
// and errors naming file, line, key and what was expected.
TEST(RunConfig, DataParallelKeys) {
  const RunConfig d = parse_run_config(kMinimal, "run.yaml");
  EXPECT_TRUE(d.train.allreduce_overlap);
  EXPECT_FALSE(d.train.sync_batchnorm);
  EXPECT_EQ(d.train.allreduce_dtype, "f32");
  const RunConfig c = parse_run_config(
      std::string(kMinimal) + "train: {allreduce_overlap: false, sync_batchnorm: true, allreduce_dtype: bf16}\n",
      "run.yaml");
  EXPECT_FALSE(c.train.allreduce_overlap);
  EXPECT_TRUE(c.train.sync_batchnorm);
  EXPECT_EQ(c.train.allreduce_dtype, "bf16");
  const std::string sync = error_of(std::string(kMinimal) + "train:\n  sync_batchnorm: 3\n");
  EXPECT_NE(sync.find("run.yaml:5: key 'train.sync_batchnorm': expected true or false, got '3'"),
            std::string::npos) << sync;
  const std::string wire = error_of(std::string(kMinimal) + "train:\n  allreduce_dtype: fp8\n");
  EXPECT_NE(wire.find("run.yaml:5: key 'train.allreduce_dtype': 'fp8' is not one of f32, bf16"),
            std::string::npos) << wire;
  const std::string typo = error_of(std::string(kMinimal) + "train:\n  allreduce_overlapp: true\n");
  EXPECT_NE(typo.find("unknown key 'train.allreduce_overlapp'"), std::string::npos) << typo;
}

TEST(RunConfig, OutOfRangeValuesNameTheRange) {
  const std::string lr = error_of(std::string(kMinimal) + "optim:\n  lr: -0.1\n");
  EXPECT_NE(lr.find("run.yaml:5: key 'optim.lr': expected a number > 0"), std::string::npos) << lr;
  const std::string m = error_of(std::string(kMinimal) + "optim: {momentum: 1.5}\n");
  EXPECT_NE(m.find("in [0, 1)"), std::string::npos) << m;
  const std::string e = error_of(std::string(kMinimal) + "train: {epochs: 0}\n");
  EXPECT_NE(e.find("key 'train.epochs': expected an integer in [1,"), std::string::npos) << e;
  const std::string c = error_of(std::string(kMinimal) + "optim: {type: adam}\n");
  EXPECT_NE(c.find("'adam' is not one of sgd, adamw"), std::string::npos) << c;
  EXPECT_NE(c.find("did you mean 'adamw'"), std::string::npos) << c;
}

TEST(RunConfig, MissingRequiredKeySaysWhich) {
  const std::string msg = error_of("optim: {lr: 0.1}\n");
  EXPECT_NE(msg.find("run.yaml: missing required key 'data.train'"), std::string::npos) << msg;
  const std::string empty = error_of("");
  EXPECT_NE(empty.find("missing required key 'data.train'"), std::string::npos) << empty;
}

TEST(RunConfig, InvalidYamlNamesTheLine) {
  const std::string msg = error_of("data:\n  train: [a\n  val: b\n");
  EXPECT_NE(msg.find("run.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid YAML"), std::string::npos) << msg;
}

TEST(RunConfig, OverridesApplyWithTheSameChecks) {
  const RunConfig c = parse_run_config(
      kMinimal, "run.yaml",
      {"optim.lr=0.05", "train.epochs=2", "data.mean=[0.5]", "data.std=[0.25]", "model.preset=resnet9"});
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.05);
  EXPECT_EQ(c.train.epochs, 2);
  ASSERT_EQ(c.data.mean.size(), 1u);
  EXPECT_FLOAT_EQ(c.data.std[0], 0.25f);
  EXPECT_EQ(c.model["preset"].as<std::string>(), "resnet9");

  const std::string typo = error_of(kMinimal, {"optim.learning_rat=0.1"});
  EXPECT_NE(typo.find("--set optim.learning_rat=0.1"), std::string::npos) << typo;
  EXPECT_NE(typo.find("did you mean 'lr'"), std::string::npos) << typo;
  const std::string range = error_of(kMinimal, {"optim.lr=-1"});
  EXPECT_NE(range.find("--set optim.lr=-1: key 'optim.lr': expected a number > 0"), std::string::npos) << range;
  const std::string noeq = error_of(kMinimal, {"optim.lr"});
  EXPECT_NE(noeq.find("expected KEY.PATH=VALUE"), std::string::npos) << noeq;
  const std::string section = error_of(kMinimal, {"optim=1"});
  EXPECT_NE(section.find("is a section"), std::string::npos) << section;
  // A required key may come from an override alone.
  EXPECT_EQ(parse_run_config("", "run.yaml", {"data.train=/x"}).data.train, "/x");
}

TEST(RunConfig, CrossKeyChecks) {
  const std::string w = error_of(std::string(kMinimal) + "train: {epochs: 2}\nschedule: {warmup_epochs: 3}\n");
  EXPECT_NE(w.find("schedule.warmup_epochs"), std::string::npos) << w;
  const std::string ms = error_of(std::string(kMinimal) + "data2: {}\n");
  EXPECT_NE(ms.find("unknown key"), std::string::npos) << ms;
  const std::string ln = error_of("data: {train: a, mean: [0.5, 0.5], std: [0.2]}\n");
  EXPECT_NE(ln.find("different lengths"), std::string::npos) << ln;
  const std::string model = error_of("data: {train: a}\nmodel: {num_classes: 3}\n");
  EXPECT_NE(model.find("preset"), std::string::npos) << model;
}

TEST(RunConfig, ResolvedConfigRoundTripsExactly) {
  const RunConfig c = parse_run_config(std::string(kMinimal) + "optim: {lr: 0.02}\n", "run.yaml",
                                       {"train.epochs=4", "data.augment.hflip=false"});
  const std::string text = c.resolved_yaml();
  // Every default is written out, so the file documents the run completely.
  EXPECT_NE(text.find("label_smoothing: 0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("epochs: 4"), std::string::npos) << text;
  EXPECT_NE(text.find("lr: 0.02"), std::string::npos) << text;
  const RunConfig again = parse_run_config(text, "config.resolved.yaml");
  EXPECT_EQ(again.resolved_yaml(), text);
  EXPECT_EQ(again.train.epochs, 4);
  EXPECT_FALSE(again.data.hflip);
  EXPECT_DOUBLE_EQ(again.optim.lr, 0.02);
  EXPECT_EQ(again.data.val, "/tmp/val");
}

TEST(RunConfig, LoadFromFileNamesTheFile) {
  const std::string path = ::testing::TempDir() + "te_cfg_test.yaml";
  {
    std::ofstream f(path);
    f << "data:\n  train: x\ncheckpoint:\n  keep: 0\n";
  }
  try {
    load_run_config(path);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":4: key 'checkpoint.keep'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_run_config(path + ".absent"), ConfigError);
}

}  // namespace
}  // namespace te

namespace te {
namespace {
TEST(RunConfig, DefaultWarmupShrinksForOneEpochRuns) {
  const RunConfig c = parse_run_config(kMinimal, "run.yaml", {"train.epochs=1"});
  EXPECT_DOUBLE_EQ(c.schedule.warmup_epochs, 0);
  const std::string msg = error_of(std::string(kMinimal) + "train: {epochs: 1}\nschedule: {warmup_epochs: 1}\n");
  EXPECT_NE(msg.find("run.yaml: key 'schedule.warmup_epochs': 1 warm-up epochs leave nothing of 1"),
            std::string::npos) << msg;
  // onecycle warms up by itself: the default warm-up steps aside, an explicit one is an error.
  EXPECT_DOUBLE_EQ(parse_run_config(std::string(kMinimal) + "schedule: {type: onecycle}\n", "run.yaml")
                       .schedule.warmup_epochs, 0);
  const std::string one = error_of(std::string(kMinimal) + "schedule:\n  type: onecycle\n  warmup_epochs: 2\n");
  EXPECT_NE(one.find("run.yaml:6: key 'schedule.warmup_epochs': the onecycle schedule"), std::string::npos) << one;
}
}  // namespace
}  // namespace te

namespace te {
namespace {
// The shipped configs stay valid as the schema evolves.
TEST(RunConfig, ShippedConfigsAreValid) {
  for (const char* name : {"quickstart", "fashion_mnist", "catdog"}) {
    const std::string path = std::string(TE_SOURCE_DIR) + "/configs/" + name + ".yaml";
    SCOPED_TRACE(path);
    RunConfig c;
    ASSERT_NO_THROW(c = load_run_config(path));
    EXPECT_FALSE(c.data.train.empty());
    EXPECT_FALSE(c.data.val.empty());
    EXPECT_TRUE(c.model["preset"].IsDefined());
  }
  // The catdog CPU recipe's overrides are accepted.
  const RunConfig cpu = load_run_config(std::string(TE_SOURCE_DIR) + "/configs/catdog.yaml",
                                        {"data.image_size=64", "train.epochs=8"});
  EXPECT_EQ(cpu.data.image_size, 64);
  EXPECT_EQ(cpu.train.epochs, 8);
}
}  // namespace
}  // namespace te

namespace te {
namespace {
// data.class_names: names for data that only numbers its classes (IDX files).
TEST(RunConfig, ClassNamesAreReadCheckedAndOverridden) {
  EXPECT_TRUE(parse_run_config(kMinimal, "run.yaml").data.class_names.empty());
  const RunConfig c = parse_run_config(
      std::string(kMinimal) + "  class_names: [T-shirt/top, Trouser, Ankle boot]\n", "run.yaml");
  EXPECT_EQ(c.data.class_names, (std::vector<std::string>{"T-shirt/top", "Trouser", "Ankle boot"}));
  // The resolved config carries them and reads back the same.
  const RunConfig again = parse_run_config(c.resolved_yaml(), "config.resolved.yaml");
  EXPECT_EQ(again.data.class_names, c.data.class_names);
  EXPECT_EQ(again.resolved_yaml(), c.resolved_yaml());

  const std::string scalar = error_of(std::string(kMinimal) + "  class_names: cat\n");
  EXPECT_NE(scalar.find("run.yaml:4: key 'data.class_names': expected a list of strings"),
            std::string::npos) << scalar;
  const std::string nested = error_of(std::string(kMinimal) + "  class_names: [cat, [dog]]\n");
  EXPECT_NE(nested.find("key 'data.class_names': expected a list of strings"), std::string::npos)
      << nested;
  const std::string empty = error_of(std::string(kMinimal) + "  class_names: []\n");
  EXPECT_NE(empty.find("expected a list of strings"), std::string::npos) << empty;
  const std::string twice = error_of(std::string(kMinimal) + "  class_names: [cat, dog, cat]\n");
  EXPECT_NE(twice.find("'cat' is given twice"), std::string::npos) << twice;

  const RunConfig o = parse_run_config(kMinimal, "run.yaml", {"data.class_names=[cat, dog]"});
  EXPECT_EQ(o.data.class_names, (std::vector<std::string>{"cat", "dog"}));
  const std::string bad = error_of(kMinimal, {"data.class_names={a: 1}"});
  EXPECT_NE(bad.find("--set data.class_names={a: 1}: key 'data.class_names': expected a list of strings"),
            std::string::npos) << bad;
  // The shipped Fashion-MNIST configs name the ten classes in label order.
  const RunConfig q = load_run_config(std::string(TE_SOURCE_DIR) + "/configs/quickstart.yaml");
  ASSERT_EQ(q.data.class_names.size(), 10u);
  EXPECT_EQ(q.data.class_names.front(), "T-shirt/top");
  EXPECT_EQ(q.data.class_names.back(), "Ankle boot");
}
}  // namespace
}  // namespace te
