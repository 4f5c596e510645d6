// trainer_engine.Loader: the engine's data loader (worker threads decode and augment, batches
// in order, deterministic per (seed, epoch)) as a Python iterable. One `for` loop is one epoch;
// batches are NumPy arrays over the loader's own buffers, so DLPack consumers
// (torch.from_dlpack) share them without a copy; with device="cuda[:N]" they are copied to
// device memory instead (DeviceArray). close(), `with`, or dropping the loader joins the
// worker threads.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <memory>
#include <mutex>
#include <optional>

#include "bindings/src/arrays.h"
#include "bindings/src/bindings.h"
#include "bindings/src/config.h"
#include "bindings/src/device_array.h"
#include "bindings/src/rank_subset.h"
#include "engine/data/loader.h"
#include "engine/train/model_info.h"

namespace te::py {
namespace {

struct LoaderSpec {
  std::string data, split = "train";
  int64_t batch_size = 64, image_size = 128, channels = 0, rank = 0, world_size = 1;
  bool train = true, shuffle = true, drop_last = false, pin_memory = true;
  std::string device = "cpu";  // or "cuda" / "cuda:N": batches copied to device memory
  uint64_t seed = 0;
  int workers = 2, prefetch = 4;
  double max_skipped_fraction = 0.01;
  TransformConfig transform;  // augmentation and resize_ratio; size and channels set from above
};

struct PyBatch {
  nb::object images, labels;
  int64_t index = 0, epoch = 0;
};

class PyLoader {
 public:
  explicit PyLoader(LoaderSpec spec) {
    require_path(spec.data, "loader");
    if (spec.device != "cpu") {
      device_id_ = open_cuda_device(spec.device);
      spec.pin_memory = true;  // the copy stream needs page-locked sources to run asynchronously
    }
    nb::gil_scoped_release release;  // opening a folder data set lists every file
    std::shared_ptr<Dataset> set = open_dataset(spec.data, DatasetOptions{spec.split});
    if (spec.world_size != 1 || spec.rank != 0)
      set = std::make_shared<RankSubset>(set, spec.rank, spec.world_size);
    TransformConfig t = spec.transform;
    t.image_size = spec.image_size;
    t.train = spec.train;
    t.channels = spec.channels > 0 ? spec.channels : data_channels(*set);
    t.mean = default_mean(t.channels);  // normalisation is the consumer's; kept consistent
    t.std = default_std(t.channels);
    LoaderOptions o;
    o.batch_size = spec.batch_size;
    o.workers = spec.workers;
    o.prefetch = spec.prefetch;
    o.shuffle = spec.shuffle;
    o.drop_last = spec.drop_last;
    o.seed = spec.seed;
    o.max_skip_fraction = spec.max_skipped_fraction;
    o.pin_memory = spec.pin_memory;
    loader_ = std::make_unique<DataLoader>(set, t, o);
  }

  // iter(loader): starts the next epoch; a previous epoch's iterator stops working.
  uint64_t start() {
    nb::gil_scoped_release release;  // always the GIL first, then the mutex: no lock cycle
    std::lock_guard lock(mutex_);
    open().start_epoch(next_epoch_);
    current_epoch_ = next_epoch_++;
    return ++generation_;
  }

  bool next(uint64_t generation, PyBatch& out) {
    Batch b;
    std::optional<DeviceArray> images, labels;
    {
      nb::gil_scoped_release release;
      std::lock_guard lock(mutex_);
      if (generation != generation_)
        throw std::runtime_error("this loader iterator belongs to an earlier epoch: iter(loader) started a new one");
      if (!open().next(b)) return false;
      if (device_id_ >= 0) {
        images = DeviceArray::upload(b.images, device_id_);
        labels = DeviceArray::upload(b.labels, device_id_);
      }
    }
    if (images) {
      out.images = nb::cast(std::move(*images));
      out.labels = nb::cast(std::move(*labels));
    } else {
      out.images = share_as_numpy(b.images).cast(nb::rv_policy::reference);  // a view, not a copy
      out.labels = share_as_numpy(b.labels).cast(nb::rv_policy::reference);
    }
    out.index = b.index;
    out.epoch = current_epoch_;
    return true;
  }

  void close() {
    nb::gil_scoped_release release;  // joining waits for the workers' current samples
    std::lock_guard lock(mutex_);
    loader_.reset();
    ++generation_;
  }

  DataLoader& open() {
    if (!loader_) throw std::runtime_error("the loader is closed");
    return *loader_;
  }
  bool closed() const { return !loader_; }
  int64_t epoch() const { return next_epoch_; }
  void set_epoch(int64_t e) {
    if (e < 0) throw nb::value_error("set_epoch: epoch must be >= 0");
    next_epoch_ = e;
  }

 private:
  static int64_t data_channels(const Dataset& d) {
    SampleData s;
    d.read(0, s);
    return s.kind == SampleData::Kind::Pixels && s.channels == 1 ? 1 : 3;
  }
  std::mutex mutex_;
  std::unique_ptr<DataLoader> loader_;
  int64_t next_epoch_ = 0, current_epoch_ = 0;
  uint64_t generation_ = 0;
  int device_id_ = -1;  // CUDA device of the batches; -1: host memory
};

struct EpochIterator {
  nb::object owner;  // the Loader, kept alive while its epoch is iterated
  uint64_t generation = 0;
};

LoaderSpec spec_from_config(const PyConfig& c, const std::string& which) {
  if (which != "train" && which != "val")
    throw nb::value_error(("Loader.from_config: which must be 'train' or 'val', got '" + which + "'").c_str());
  const RunConfig rc = c.parse();
  const DataSection& d = rc.data;
  if (which == "val" && d.val.empty()) throw ConfigError(c.path + ": data.val is not set");
  LoaderSpec s;
  const bool train = which == "train";
  s.data = train ? d.train : d.val;
  s.split = train ? d.train_split : d.val_split;
  s.batch_size = train ? d.batch_size : d.eval_batch_size;
  s.image_size = d.image_size;
  s.train = train;
  s.shuffle = train;
  s.drop_last = train;  // as the trainer: equal-sized steps
  s.seed = rc.train.seed;
  s.workers = d.workers;
  s.max_skipped_fraction = d.max_skipped_fraction;
  s.channels = rc.model["in_channels"] ? rc.model["in_channels"].as<int64_t>() : 0;
  TransformConfig& t = s.transform;
  t.resize_ratio = d.resize_ratio;
  t.augment.random_resized_crop = d.random_resized_crop;
  t.augment.scale_min = d.scale_min;
  t.augment.scale_max = d.scale_max;
  t.augment.hflip = d.hflip;
  t.augment.pad_crop = static_cast<int>(d.pad_crop);
  t.augment.color_jitter = d.color_jitter;
  t.augment.random_erasing = d.random_erasing;
  return s;
}

// A batch array's type in the stubs: DeviceArray exists only with the CUDA backend.
#ifdef TE_WITH_CUDA
#define TE_PY_BATCH_ARRAY(dtype) "numpy.typing.NDArray[" dtype "] | DeviceArray"
#else
#define TE_PY_BATCH_ARRAY(dtype) "numpy.typing.NDArray[" dtype "]"
#endif

}  // namespace

void register_loader(nb::module_& m) {
  nb::class_<PyBatch>(m, "Batch", "One batch: uint8 images (N, H, W, C) and int32 labels (N,).")
      .def_ro("images", &PyBatch::images, nb::sig("def images(self) -> " TE_PY_BATCH_ARRAY("numpy.uint8")),
              "uint8 (N, H, W, C), sharing the loader's buffer (DLPack: torch.from_dlpack); a "
              "DeviceArray when the loader has a CUDA device")
      .def_ro("labels", &PyBatch::labels, nb::sig("def labels(self) -> " TE_PY_BATCH_ARRAY("numpy.int32")),
              "int32 (N,)")
      .def_ro("index", &PyBatch::index, "the batch's index within the epoch")
      .def_ro("epoch", &PyBatch::epoch)
      .def("__iter__", [](const PyBatch& b) { return nb::iter(nb::make_tuple(b.images, b.labels)); },
           nb::sig("def __iter__(self) -> typing.Iterator[numpy.typing.NDArray[typing.Any]]"),
           "images, labels = batch")
      .def("__repr__", [](const PyBatch& b) {
        return "Batch(epoch=" + std::to_string(b.epoch) + ", index=" + std::to_string(b.index) +
               ", images=" + text_of(b.images.attr("shape")) + ")";
      });

  nb::class_<EpochIterator>(m, "_EpochIterator")
      .def("__iter__", [](nb::handle self) { return nb::borrow(self); },
           nb::sig("def __iter__(self) -> _EpochIterator"))
      .def("__next__", [](EpochIterator& it) {
        PyBatch b;
        if (!nb::cast<PyLoader&>(it.owner).next(it.generation, b)) throw nb::stop_iteration();
        return b;
      });

  nb::class_<PyLoader>(m, "Loader", "The engine's data loader over image folders, IDX files or shards.")
      .def(
          "__init__",
          [](PyLoader* self, const std::filesystem::path& data, int64_t batch_size, int64_t image_size, bool train,
             const std::string& split, nb::object shuffle, bool drop_last, uint64_t seed, int workers,
             int prefetch, int64_t rank, int64_t world_size, int64_t channels, double resize_ratio,
             bool random_resized_crop, std::pair<double, double> scale, bool hflip, int pad_crop,
             double color_jitter, double random_erasing, double max_skipped_fraction, bool pin_memory,
             const std::string& device) {
            LoaderSpec s;
            s.data = data.string();
            s.batch_size = batch_size;
            s.image_size = image_size;
            s.train = train;
            s.split = split;
            s.shuffle = shuffle.is_none() ? train : nb::cast<bool>(shuffle);
            s.drop_last = drop_last;
            s.seed = seed;
            s.workers = workers;
            s.prefetch = prefetch;
            s.rank = rank;
            s.world_size = world_size;
            s.channels = channels;
            s.max_skipped_fraction = max_skipped_fraction;
            s.pin_memory = pin_memory;
            s.device = device;
            s.transform.resize_ratio = resize_ratio;
            s.transform.augment.random_resized_crop = random_resized_crop;
            s.transform.augment.scale_min = scale.first;
            s.transform.augment.scale_max = scale.second;
            s.transform.augment.hflip = hflip;
            s.transform.augment.pad_crop = pad_crop;
            s.transform.augment.color_jitter = color_jitter;
            s.transform.augment.random_erasing = random_erasing;
            new (self) PyLoader(std::move(s));
          },
          nb::arg("data"), nb::arg("batch_size") = 64, nb::arg("image_size") = 128, nb::kw_only(),
          nb::arg("train") = true, nb::arg("split") = "train", nb::arg("shuffle").none() = nb::none(),
          nb::arg("drop_last") = false, nb::arg("seed") = 0, nb::arg("workers") = 2,
          nb::arg("prefetch") = 4, nb::arg("rank") = 0, nb::arg("world_size") = 1,
          nb::arg("channels") = 0, nb::arg("resize_ratio") = 0.875,
          nb::arg("random_resized_crop") = true, nb::arg("scale") = std::make_pair(0.08, 1.0),
          nb::arg("hflip") = true, nb::arg("pad_crop") = 0, nb::arg("color_jitter") = 0.0,
          nb::arg("random_erasing") = 0.0, nb::arg("max_skipped_fraction") = 0.01,
          nb::arg("pin_memory") = true, nb::arg("device") = "cpu",
          "train=False gives the evaluation transform (resize + centre crop, no augmentation); "
          "shuffle defaults to train; channels 0 takes 1 for gray IDX/shards, else 3. "
          "device='cuda' or 'cuda:N' copies every batch to that GPU (DeviceArray).")
      .def_static(
          "from_config",
          [](const PyConfig& c, const std::string& which, int64_t rank, int64_t world_size,
             const std::string& device) {
            LoaderSpec s = spec_from_config(c, which);
            s.rank = rank;
            s.world_size = world_size;
            s.device = device;
            return std::make_unique<PyLoader>(std::move(s));
          },
          nb::arg("config"), nb::arg("which") = "train", nb::arg("rank") = 0, nb::arg("world_size") = 1,
          nb::arg("device") = "cpu",
          "The loader the trainer builds for data.train ('train') or data.val ('val').")
      .def("__iter__", [](nb::handle self) {
        return EpochIterator{nb::borrow(self), nb::cast<PyLoader&>(self).start()};
      })
      .def("__len__", [](PyLoader& l) { return l.open().batches_per_epoch(); })
      .def_prop_ro("epoch", &PyLoader::epoch, "the epoch the next iter() starts")
      .def("set_epoch", &PyLoader::set_epoch, nb::arg("epoch"))
      .def_prop_ro("closed", &PyLoader::closed)
      .def_prop_ro("num_samples", [](PyLoader& l) { return l.open().dataset().size(); })
      .def_prop_ro("class_names", [](PyLoader& l) { return l.open().dataset().class_names(); })
      .def_prop_ro("workers", [](PyLoader& l) { return l.open().workers(); })
      .def_prop_ro("skipped_files", [](PyLoader& l) { return l.open().skipped_files(); })
      .def("close", &PyLoader::close, "Stops and joins the worker threads.")
      .def("__enter__", [](nb::handle self) { return nb::borrow(self); })
      .def("__exit__", [](PyLoader& l, nb::args) { l.close(); });
}

}  // namespace te::py
