# Every dependency comes from the system's packages (Debian/Ubuntu -dev packages); nothing is
# downloaded at build time. scripts/install_deps.sh installs them.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# yaml-cpp: 0.7 (Debian 12) exports `yaml-cpp`, 0.8 (Ubuntu 24.04) `yaml-cpp::yaml-cpp`.
find_package(yaml-cpp REQUIRED)
if(TARGET yaml-cpp::yaml-cpp)
  set(TE_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(TE_YAML_TARGET yaml-cpp)
endif()

find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

# A real BLAS for the CPU GEMMs: OpenBLAS, through its CBLAS interface.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)

find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
find_package(ZLIB REQUIRED)

if(TE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
