// Writes the seed corpora of the fuzz targets, every file made by the engine's own writers:
//   fuzz_make_seeds OUT_DIR SOURCE_DIR   -> OUT_DIR/{config,image,idx,shards,checkpoint}/
// SOURCE_DIR is the checkout (its configs/ become config seeds).
#include <png.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "engine/data/dataset.h"
#include "engine/data/jpeg_encode.h"
#include "engine/data/shard_format.h"
#include "engine/data/shard_writer.h"
#include "engine/graph/graph.h"
#include "engine/optim/optimizer.h"
#include "engine/train/checkpoint.h"
#include "fuzz_util.h"

namespace fs = std::filesystem;
using te::fuzz::join_parts;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void seed(const std::string& dir, const std::string& bytes) {
  fs::create_directories(dir);
  static int n = 0;
  te::fuzz::write_bytes(dir + "/seed-" + std::to_string(n++), bytes);
}

std::vector<uint8_t> pattern(int64_t w, int64_t h, int64_t c, int s) {
  std::vector<uint8_t> p(static_cast<size_t>(w * h * c));
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>((i * 7 + s * 31 + (i / 3) % 17) & 0xFF);
  return p;
}

std::string png(const std::vector<uint8_t>& pixels, int64_t w, int64_t h, int64_t c) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(w);
  image.height = static_cast<png_uint_32>(h);
  image.format = c == 1 ? PNG_FORMAT_GRAY : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string out(size, '\0');
  png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr);
  out.resize(size);
  return out;
}

std::string jpeg(int64_t w, int64_t h, int64_t c, bool progressive, int s) {
  const auto p = pattern(w, h, c, s);
  const auto bytes = te::encode_jpeg(p.data(), w, h, c, {80, progressive});
  return std::string(bytes.begin(), bytes.end());
}

std::string idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string out = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) out += static_cast<char>((d >> (8 * k)) & 0xFF);
  out.append(data.begin(), data.end());
  return out;
}

void config_seeds(const std::string& out, const std::string& source) {
  for (const auto& e : fs::recursive_directory_iterator(source + "/configs"))
    if (e.path().extension() == ".yaml") seed(out, join_parts({read(e.path()), "train.epochs=2\n"}));
  seed(out, join_parts({"data: {train: /x}\nmodel: {preset: resnet18, num_classes: 2}\n",
                        "optim.lr=0.05\nmodel.num_classes=3\ndata.mean=[0.5]\n"}));
  seed(out, join_parts({"data: {train: /x}\nmodel:\n  in_channels: 1\n  layers:\n"
                        "    - {name: c1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}\n"
                        "    - {name: r1, type: relu}\n    - {name: c2, type: conv2d, out_channels: 4, kernel: 3, padding: 1}\n"
                        "    - {name: s, type: add, inputs: [r1, c2]}\n    - {name: p, type: global_avg_pool}\n"
                        "    - {name: fc, type: linear, out_features: 10}\n", ""}));
}

void image_seeds(const std::string& out) {
  // The 11 parameter bytes image_fuzz.cpp reads first (size 32, RGB, train, random crop...).
  const std::string params("\x20\x01\x01\x01\x40\xc0\x01\x00\x00\xa0\x07", 11);
  for (int c : {1, 3}) {
    seed(out, params + jpeg(40, 24, c, false, c));
    seed(out, params + jpeg(33, 65, c, true, c));
    seed(out, params + png(pattern(20, 12, c, c), 20, 12, c));
  }
  seed(out, params + png(pattern(9, 9, 4, 4), 9, 9, 4));
  seed(out, std::string("\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11) + jpeg(300, 200, 3, false, 5));
}

void idx_seeds(const std::string& out) {
  const std::string images = idx({3, 4, 5}, pattern(5, 4, 3, 1));
  const std::string labels = idx({3}, {0, 2, 1});
  for (char flags : {0, 1, 2, 3}) seed(out, std::string(1, flags) + join_parts({images, labels}));
  seed(out, std::string(1, 0) + join_parts({te::fuzz::gzip(images), te::fuzz::gzip(labels)}));
}

void shard_seeds(const std::string& out, const std::string& work) {
  const std::string src = work + "/images";
  for (int cls = 0; cls < 2; ++cls)
    for (int i = 0; i < 3; ++i) {
      fs::create_directories(src + "/c" + std::to_string(cls));
      te::fuzz::write_bytes(src + "/c" + std::to_string(cls) + "/" + std::to_string(i) + ".jpg",
                            jpeg(20 + i, 16, 3, i == 1, cls * 3 + i));
    }
  const auto set = te::open_dataset(src);
  int n = 0;
  for (const char* format : {"jpeg", "raw"})
    for (int64_t channels : {1, 3}) {
      te::PackOptions o;
      o.size = 12;
      o.format = format;
      o.channels = channels;
      o.workers = 1;
      const std::string dst = work + "/pack" + std::to_string(n++);
      te::pack_shards(*set, dst, o);
      seed(out, join_parts({read(dst + "/" + te::kShardMetaFile), read(dst + "/" + te::kShardIndexFile),
                            read(dst + "/" + te::shard_file_name(0))}));
    }
}

void checkpoint_seeds(const std::string& out, const std::string& work) {
  const YAML::Node model = YAML::Load(
      "{in_channels: 1, num_classes: 3, layers: [{name: c, type: conv2d, out_channels: 2, kernel: 3},"
      " {name: b, type: batchnorm2d}, {name: r, type: relu}, {name: p, type: global_avg_pool},"
      " {name: fc, type: linear, out_features: 3}]}");
  te::ModelInfo info;
  info.model = model;
  info.input_chw = te::Shape{1, 6, 6};
  info.class_names = {"a", "b", "c"};
  info.mean = {0.5f};
  info.std = {0.25f};
  auto graph = te::Graph::build(model, "seed", info.input_chw);
  for (const char* type : {"sgd", "adamw"}) {
    te::OptimizerConfig oc;
    oc.type = type;
    auto optimizer = te::make_optimizer(oc, graph->num_parameters(), te::Device::cpu());
    te::TrainingState state;
    state.epoch = 1;
    state.step = 7;
    te::CheckpointFiles files{1, 7, work + "/w-" + type + ".safetensors", work + "/s-" + type + ".safetensors"};
    te::save_checkpoint(files, *graph, *optimizer, info, state);
    seed(out, join_parts({read(files.weights), read(files.state)}));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR SOURCE_DIR\n";
    return 2;
  }
  te::fuzz::quiet_logs();
  const std::string out = argv[1], source = argv[2];
  const std::string work = out + "/.work";
  fs::remove_all(work);
  fs::create_directories(work);
  config_seeds(out + "/config", source);
  image_seeds(out + "/image");
  idx_seeds(out + "/idx");
  shard_seeds(out + "/shards", work);
  checkpoint_seeds(out + "/checkpoint", work);
  fs::remove_all(work);
  std::cout << "seed corpora written to " << out << "\n";
  return 0;
}
