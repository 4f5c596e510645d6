// The exporter of a build without ONNX (cmake did not find libonnx-dev / libprotobuf-dev):
// every entry point explains how to get the real one.
#include "engine/export/onnx_export.h"

namespace te {
namespace {
[[noreturn]] void unavailable() {
  throw ExportError(
      "this trainer was built without ONNX export: install Debian/Ubuntu's libonnx-dev and "
      "libprotobuf-dev (scripts/install_deps.sh does), then re-run cmake and rebuild");
}
}  // namespace

bool onnx_export_available() { return false; }
int64_t onnx_max_opset() { return 0; }
std::string export_onnx(const ExportSource&, const OnnxExportOptions&) { unavailable(); }
void export_onnx_file(const std::string&, const std::string&, const OnnxExportOptions&) { unavailable(); }

}  // namespace te
