// docker/check_runtime_libs.sh's logic with a fake `ldd` and a fake `dpkg -S` (its real use is
// on an Ubuntu 24.04 machine with a built trainer): libraries map to packages, packages must be
// in the runtime list or the base image's, and each kind of problem is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "shell.h"

namespace te::testing {
namespace {

namespace fs = std::filesystem;

class RuntimeLibs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "te_runtime_libs_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_text(dir_ + "/trainer", "");  // the script only needs the binary to exist
    // `dpkg -S PATH`: "owners: PATH" from the map (tab-separated), else dpkg's error and 1.
    write_text(dir_ + "/dpkg_search",
               "#!/bin/sh\n"
               "owner=$(awk -F '\\t' -v p=\"$1\" '$1 == p { print $2 }' '" + dir_ + "/owners.tsv')\n"
               "if [ -z \"$owner\" ]; then echo \"dpkg-query: no path found matching pattern $1\" >&2; exit 1; fi\n"
               "echo \"$owner: $1\"\n");
    write_text(dir_ + "/ldd", "#!/bin/sh\ncat '" + dir_ + "/ldd.txt'\n");
    fs::permissions(dir_ + "/dpkg_search", fs::perms::owner_all);
    fs::permissions(dir_ + "/ldd", fs::perms::owner_all);
    write_text(dir_ + "/runtime.txt", "# runtime stage\nlibyaml-cpp0.8\n\nlibjpeg-turbo8   # a comment\n");
    write_text(dir_ + "/base.txt", "libc6\nlibstdc++6\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  Shell check(const std::string& ldd, const std::string& owners) {
    write_text(dir_ + "/ldd.txt", ldd);
    write_text(dir_ + "/owners.tsv", owners);
    return run_shell("LDD='" + dir_ + "/ldd' DPKG_SEARCH='" + dir_ + "/dpkg_search' RUNTIME_PACKAGES='" + dir_ +
                     "/runtime.txt' BASE_PACKAGES='" + dir_ + "/base.txt' '" +
                     source_path("docker/check_runtime_libs.sh") + "' '" + dir_ + "/trainer'");
  }

  std::string dir_;
};

const char* kLdd =
    "\tlinux-vdso.so.1 (0x00007ffc)\n"
    "\tlibyaml-cpp.so.0.8 => /usr/lib/x86_64-linux-gnu/libyaml-cpp.so.0.8 (0x00007f01)\n"
    "\tlibjpeg.so.8 => /usr/lib/x86_64-linux-gnu/libjpeg.so.8 (0x00007f02)\n"
    "\tlibstdc++.so.6 => /usr/lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f03)\n"
    "\tlibc.so.6 => /usr/lib/x86_64-linux-gnu/libc.so.6 (0x00007f04)\n"
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f05)\n";
const char* kOwners =
    "/usr/lib/x86_64-linux-gnu/libyaml-cpp.so.0.8\tlibyaml-cpp0.8:amd64\n"
    "/usr/lib/x86_64-linux-gnu/libjpeg.so.8\tlibjpeg-turbo8:amd64\n"
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6\tlibstdc++6:amd64\n"
    "/usr/lib/x86_64-linux-gnu/libc.so.6\tlibc6:amd64\n"
    "/usr/lib64/ld-linux-x86-64.so.2\tlibc6:amd64\n";

TEST_F(RuntimeLibs, EveryLibraryFromAListedPackagePasses) {
  // ld-linux is reported as /lib64/... but dpkg knows /usr/lib64/... (merged /usr).
  const Shell r = check(kLdd, kOwners);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libyaml-cpp.so.0.8: libyaml-cpp0.8 (runtime-packages.txt)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libc.so.6: libc6 (base image)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ld-linux-x86-64.so.2: libc6 (base image)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("all 5 libraries"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, ALibraryFromAnUnlistedPackageFailsNamingIt) {
  const Shell r = check(std::string(kLdd) + "\tlibpng16.so.16 => /usr/lib/x86_64-linux-gnu/libpng16.so.16 (0x1)\n",
                        std::string(kOwners) + "/usr/lib/x86_64-linux-gnu/libpng16.so.16\tlibpng16-16t64:amd64\n");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("libpng16.so.16: from package libpng16-16t64, which the runtime stage does not install"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 of the libraries"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, AnyOfSeveralOwnersMayBeListed) {
  const Shell r = check("\tlibjpeg.so.8 => /usr/lib/x86_64-linux-gnu/libjpeg.so.8 (0x1)\n",
                        "/usr/lib/x86_64-linux-gnu/libjpeg.so.8\tlibjpeg8-other:amd64, libjpeg-turbo8:amd64\n");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libjpeg.so.8: libjpeg-turbo8"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, MissingAndUnownedLibrariesFail) {
  const Shell r = check(std::string(kLdd) +
                            "\tlibcudnn.so.9 => not found\n"
                            "\tlibhand.so.1 => /opt/hand/libhand.so.1 (0x1)\n",
                        kOwners);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("libcudnn.so.9: not found by ldd"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/opt/hand/libhand.so.1: no package owns it"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 of the libraries"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, TheDriversLibrariesAreSkipped) {
  // Not in any list and not in the fake dpkg: the container runtime brings the host's.
  const Shell r = check(std::string(kLdd) + "\tlibcuda.so.1 => /usr/lib/x86_64-linux-gnu/libcuda.so.1 (0x1)\n", kOwners);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libcuda.so.1: the GPU driver's"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, LddFailureIsAnError) {
  write_text(dir_ + "/ldd", "#!/bin/sh\necho '\tnot a dynamic executable'\nexit 1\n");
  write_text(dir_ + "/owners.tsv", "");
  const Shell r = run_shell("LDD='" + dir_ + "/ldd' DPKG_SEARCH='" + dir_ + "/dpkg_search' RUNTIME_PACKAGES='" +
                            dir_ + "/runtime.txt' BASE_PACKAGES='" + dir_ + "/base.txt' '" +
                            source_path("docker/check_runtime_libs.sh") + "' '" + dir_ + "/trainer'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not a dynamic executable"), std::string::npos) << r.output;
}

TEST_F(RuntimeLibs, AMissingBinaryIsAClearError) {
  const Shell r = run_shell("'" + source_path("docker/check_runtime_libs.sh") + "' '" + dir_ + "/nothing'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
}

// The real lists parse: every entry a plausible Debian package name.
TEST(RuntimePackageLists, EntriesAreDebianPackageNames) {
  for (const char* list : {"docker/runtime-packages.txt", "docker/base-image-packages.txt"}) {
    const Shell r = run_shell("sed -e 's/#.*//' -e 's/[[:space:]]//g' '" + source_path(list) +
                              "' | grep -v '^$' | grep -v -E '^[a-z0-9][a-z0-9.+-]+$' || true");
    EXPECT_EQ(r.output, "") << list << " has entries that are not package names";
    const Shell n = run_shell("sed -e 's/#.*//' '" + source_path(list) + "' | grep -c '[a-z]'");
    EXPECT_GT(std::atoi(n.output.c_str()), 2) << list;
  }
}

}  // namespace
}  // namespace te::testing
