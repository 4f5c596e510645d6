// Writes the first batches of the engine's DataLoader to a file (images, then labels, per
// batch), for the test that compares them with the Python loader's batches:
//   te_dump_batches DATA SPLIT BATCH SIZE SEED EPOCH TRAIN(0|1) BATCHES OUT
#include <cstdio>
#include <fstream>
#include <string>

#include "engine/data/loader.h"
#include "engine/train/model_info.h"

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "usage: %s DATA SPLIT BATCH SIZE SEED EPOCH TRAIN BATCHES OUT\n", argv[0]);
    return 2;
  }
  auto set = te::open_dataset(argv[1], te::DatasetOptions{argv[2]});
  te::SampleData first;
  set->read(0, first);
  te::TransformConfig t;
  t.image_size = std::stoll(argv[4]);
  t.channels = first.kind == te::SampleData::Kind::Pixels && first.channels == 1 ? 1 : 3;
  t.train = std::string(argv[7]) == "1";
  t.mean = te::default_mean(t.channels);
  t.std = te::default_std(t.channels);
  te::LoaderOptions o;
  o.batch_size = std::stoll(argv[3]);
  o.workers = 2;
  o.shuffle = t.train;
  o.seed = std::stoull(argv[5]);
  te::DataLoader loader(set, t, o);
  loader.start_epoch(std::stoll(argv[6]));
  std::ofstream out(argv[9], std::ios::binary);
  te::Batch b;
  for (long i = 0; i < std::stol(argv[8]) && loader.next(b); ++i) {
    out.write(static_cast<const char*>(b.images.raw()), static_cast<std::streamsize>(b.images.nbytes()));
    out.write(static_cast<const char*>(b.labels.raw()), static_cast<std::streamsize>(b.labels.nbytes()));
  }
  return out.good() ? 0 : 1;
}
