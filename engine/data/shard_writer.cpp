#include "engine/data/shard_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/core/error.h"
#include "engine/data/image_decode.h"
#include "engine/data/jpeg_encode.h"
#include "engine/data/resize.h"
#include "engine/data/shard_format.h"
#include "engine/io/atomic_file.h"

namespace te {
namespace {
namespace fs = std::filesystem;

struct PackedImage {
  std::vector<uint8_t> bytes;
  uint32_t height = 0, width = 0;
  std::string error;  // non-empty: left out
};

PackedImage pack_one(const Dataset& source, int64_t i, const PackOptions& o) {
  PackedImage p;
  try {
    SampleData sample;
    source.read(i, sample);
    DecodedImage img;
    int64_t w = 0, h = 0;
    // The target size depends on the image size, which the planner learns from the header.
    CropPlanner full = [&](int64_t fw, int64_t fh) {
      const double s = std::min(1.0, static_cast<double>(o.size) / std::min(fw, fh));
      w = std::max<int64_t>(1, std::llround(fw * s));
      h = std::max<int64_t>(1, std::llround(fh * s));
      return PixelRect{0, 0, static_cast<double>(fw), static_cast<double>(fh)};
    };
    const DecodeLimits limits{o.max_image_side};
    if (sample.kind == SampleData::Kind::Encoded) {
      // Decoding at a reduced DCT scale needs the output size first: read it from the header.
      if (detect_image_format(sample.data, sample.size) == ImageFormat::Jpeg) {
        const auto [fw, fh] = jpeg_dimensions(sample.data, sample.size);
        full(fw, fh);
        img = decode_jpeg(sample.data, sample.size, o.channels, limits, &full, w, h);
      } else {
        img = decode_image(sample.data, sample.size, o.channels, limits);
        full(img.width, img.height);
      }
    } else {
      img.pixels = convert_channels(sample.data, sample.width * sample.height, sample.channels,
                                    o.channels);
      img.width = sample.width, img.height = sample.height, img.channels = o.channels;
      img.crop = full(img.width, img.height);
    }
    std::vector<uint8_t> out(static_cast<size_t>(w * h * o.channels));
    resize_region(img.pixels.data(), img.width, img.height, o.channels, img.crop, out.data(), w, h);
    p.width = static_cast<uint32_t>(w);
    p.height = static_cast<uint32_t>(h);
    p.bytes = o.format == "raw" ? std::move(out) : encode_jpeg(out.data(), w, h, o.channels, {o.quality, false});
  } catch (const BadImageError& e) {
    p.error = e.what();
  }
  return p;
}

}  // namespace

PackReport pack_shards(const Dataset& source, const std::string& dst, const PackOptions& o) {
  if (o.format != "jpeg" && o.format != "raw")
    throw ConfigError("pack: --format must be jpeg or raw, got '" + o.format + "'");
  if (o.size <= 0) throw ConfigError("pack: --size must be positive");
  if (o.quality < 1 || o.quality > 100) throw ConfigError("pack: --quality must be in 1..100");
  std::error_code ec;
  if (fs::exists(dst) && !(fs::is_directory(dst) && fs::is_empty(dst)))
    throw DataError("pack destination '" + dst + "' exists and is not an empty folder");
  fs::create_directories(dst, ec);
  if (ec) throw DataError("cannot create '" + dst + "': " + ec.message());

  const int workers = o.workers > 0 ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  const int64_t n = source.size();
  PackReport report;
  std::vector<ShardRecord> index;
  std::ofstream shard;
  uint64_t shard_size = 0;
  auto open_shard = [&] {
    if (shard.is_open()) shard.close();
    const std::string path = (fs::path(dst) / shard_file_name(report.shards)).string();
    shard.open(path, std::ios::binary);
    if (!shard) throw DataError("cannot write shard '" + path + "'");
    ++report.shards;
    shard_size = 0;
  };
  open_shard();
  // Chunks are packed in parallel and written in order, so the output is deterministic.
  const int64_t chunk = 64 * workers;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    std::vector<PackedImage> packed(static_cast<size_t>(end - begin));
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(workers);
    for (int w = 0; w < workers; ++w)
      threads.emplace_back([&, w] {
        try {
          for (int64_t i = begin + w; i < end; i += workers) packed[i - begin] = pack_one(source, i, o);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    for (int64_t i = begin; i < end; ++i) {
      PackedImage& p = packed[i - begin];
      if (!p.error.empty()) {
        spdlog::warn("pack: leaving out '{}': {}", source.describe(i), p.error);
        report.left_out.emplace_back(source.describe(i), p.error);
        continue;
      }
      if (shard_size > 0 && shard_size + p.bytes.size() > static_cast<uint64_t>(o.shard_bytes))
        open_shard();
      index.push_back(ShardRecord{shard_size, p.bytes.size(), static_cast<uint32_t>(report.shards - 1),
                                  source.label(i), p.height, p.width});
      shard.write(reinterpret_cast<const char*>(p.bytes.data()), static_cast<std::streamsize>(p.bytes.size()));
      shard_size += p.bytes.size();
      report.bytes += static_cast<int64_t>(p.bytes.size());
      ++report.packed;
    }
  }
  shard.close();
  if (!shard) throw DataError("error writing shards in '" + dst + "'");
  if (report.packed == 0)
    throw DataError("pack: none of the " + std::to_string(n) + " images of '" +
                    (n ? source.describe(0) : dst) + "'... could be decoded; nothing packed");
  {
    std::ofstream idx(fs::path(dst) / kShardIndexFile, std::ios::binary);
    idx.write(reinterpret_cast<const char*>(index.data()),
              static_cast<std::streamsize>(index.size() * sizeof(ShardRecord)));
    if (!idx) throw DataError("cannot write the shard index in '" + dst + "'");
  }
  nlohmann::json meta = {{"format", "te-shards"},       {"version", kShardFormatVersion},
                         {"encoding", o.format},        {"channels", o.channels},
                         {"size", o.size},              {"count", report.packed},
                         {"shards", report.shards},     {"classes", source.class_names()}};
  // Metadata last, atomically: a pack interrupted earlier is never mistaken for complete.
  write_file_atomic((fs::path(dst) / kShardMetaFile).string(), meta.dump(2) + "\n");
  return report;
}

}  // namespace te
