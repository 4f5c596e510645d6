// `trainer pack SRC DST --size 160 [--format jpeg|raw] [--quality 90]`: converts an image folder
// (or list file, or IDX set) into memory-mappable shards of pre-resized images.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/shard_writer.h"

namespace te::cli {

void register_pack(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  struct Args {
    std::string src, dst, split = "train";
    int64_t shard_mb = 256;
    PackOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "pack", "Pack an image folder into shards of pre-resized images for fast loading");
  cmd->add_option("SRC", args->src, "Image folder (root/<class>/<files>), list file or IDX folder")
      ->required();
  cmd->add_option("DST", args->dst, "Output folder (must not exist or be empty)")->required();
  cmd->add_option("--size", args->options.size, "Shorter side after resizing (never enlarged)")
      ->capture_default_str();
  cmd->add_option("--format", args->options.format, "Stored encoding")
      ->check(CLI::IsMember({"jpeg", "raw"}))
      ->capture_default_str();
  cmd->add_option("--quality", args->options.quality, "JPEG quality")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--channels", args->options.channels, "Channels stored: 1 or 3")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  cmd->add_option("--shard-mb", args->shard_mb, "Shard file size, MiB")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--workers", args->options.workers, "Threads (0: core count)")->capture_default_str();
  cmd->add_option("--split", args->split, "IDX sources: train or test")->capture_default_str();
  runners.emplace_back(cmd, [args]() {
    DatasetOptions opts;
    opts.split = args->split;
    args->options.shard_bytes = args->shard_mb << 20;
    const auto source = open_dataset(args->src, opts);
    std::cout << "packing " << source->size() << " images (" << source->kind() << ", "
              << source->class_names().size() << " classes) from " << args->src << " into "
              << args->dst << "\n";
    const auto t0 = std::chrono::steady_clock::now();
    const PackReport r = pack_shards(*source, args->dst, args->options);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "packed " << r.packed << " images into " << r.shards << " shard(s), "
              << r.bytes / (1024.0 * 1024.0) << " MiB, in " << s << " s\n";
    if (!r.left_out.empty()) {
      std::cout << "left out " << r.left_out.size() << " file(s) that could not be decoded:\n";
      for (const auto& [file, reason] : r.left_out) std::cout << "  " << file << ": " << reason << "\n";
    }
    return 0;
  });
}

}  // namespace te::cli
