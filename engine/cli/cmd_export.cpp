// `trainer export --checkpoint CKPT|RUN_DIR --format onnx --out FILE [--opset N]
// [--dynamic-batch] [--softmax] [--fold-bn]`: the trained model as an ONNX file for deployment
// tools (engine/export/onnx_export.h says what the file holds).
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/export/onnx_export.h"

namespace te::cli {
namespace {

struct ExportOptions {
  std::string checkpoint, format = "onnx", out;
  OnnxExportOptions onnx;
};

int run_export(const ExportOptions& o) {
  export_onnx_file(o.checkpoint, o.out, o.onnx);
  std::cout << o.out << "\n";
  return 0;
}

}  // namespace

void register_export(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand("export", "Write a trained model as an ONNX file");
  cmd->add_option("--checkpoint", o->checkpoint, "Weights file or run directory (its best weights)")->required();
  cmd->add_option("--format", o->format, "Output format (only onnx)")
      ->check(CLI::IsMember({"onnx"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "The file to write, e.g. model.onnx")->required();
  cmd->add_option("--opset", o->onnx.opset, "ONNX operator set (13 up to what the linked ONNX knows)")
      ->capture_default_str();
  cmd->add_flag("--dynamic-batch", o->onnx.dynamic_batch, "Any batch size (default: a fixed batch of 1)");
  cmd->add_flag("--softmax", o->onnx.softmax, "Also output `probabilities` (softmax of the logits)");
  cmd->add_flag("--fold-bn", o->onnx.fold_bn, "Fold batch norm into the convolution before it");
  runners.emplace_back(cmd, [o] { return run_export(*o); });
}

}  // namespace te::cli
