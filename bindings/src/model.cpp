// trainer_engine.Model: a trained model loaded from a weights file or run directory, with
// predict (files or arrays), state_dict (torchvision's names) and info (layers, memory plan).
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>

#include "bindings/src/arrays.h"
#include "bindings/src/bindings.h"
#include "engine/cli/device_select.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "engine/train/predict.h"
#include "engine/train/run_dir.h"
#include "kernels/normalize.h"

namespace te::py {
namespace {

struct PyModel {
  LoadedModel model;
  std::string weights;
  int64_t channels() const { return model.info.input_chw[0]; }
  int64_t size() const { return model.info.input_chw[1]; }
  int64_t classes() const { return static_cast<int64_t>(model.info.class_names.size()); }
};

PyModel load(const std::string& path, const std::string& device) {
  require_path(path, "load");
  PyModel m;
  {
    nb::gil_scoped_release release;
    m.weights = resolve_weights_path(path);
    m.model = load_model(m.weights, Device::cpu());
    m.model.graph->to(cli::select_device(device, m.model.info.model));
  }
  return m;
}

// Softmax probabilities [N, classes] of a normalised float NCHW batch, in chunks of `chunk`.
NumpyArray probabilities(PyModel& m, const Tensor& input, int64_t chunk = 64) {
  const int64_t n = input.dim(0), k = m.classes();
  Tensor out = Tensor::empty(Shape{n, k}, DType::F32);
  {
    nb::gil_scoped_release release;
    RunContext ctx;
    ctx.training = false;
    Graph& g = *m.model.graph;
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const Tensor part = input.narrow0(begin, std::min(n, begin + chunk));
      Tensor probs;
      softmax_rows(g.forward(g.device().is_cpu() ? part : part.to(g.device()), ctx), probs);
      const std::vector<float> p = probs.to_vector();
      std::copy(p.begin(), p.end(), out.data<float>() + begin * k);
    }
  }
  return share_as_numpy(out);
}

NumpyArray predict_files_probs(PyModel& m, const std::vector<std::string>& paths) {
  for (const auto& p : paths) require_path(p, "predict");
  std::vector<Prediction> preds;
  {
    nb::gil_scoped_release release;
    preds = predict_files(m.model, paths, m.classes());
  }
  const int64_t k = m.classes();
  Tensor out = Tensor::zeros(Shape{static_cast<int64_t>(paths.size()), k}, DType::F32);
  for (size_t i = 0; i < preds.size(); ++i) {
    if (!preds[i].error.empty()) throw DataError(preds[i].image + ": " + preds[i].error);
    for (const auto& [cls, prob] : preds[i].top)
      out.data<float>()[static_cast<int64_t>(i) * k + cls] = static_cast<float>(prob);
  }
  return share_as_numpy(out);
}

template <typename Array>
std::string shape_text(const Array& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// uint8 [N, H, W, C] / [H, W, C] / [H, W] images (any size; resized and centre-cropped like
// `predict` files) or float32 [N, C, H, W] / [C, H, W] already normalised inputs.
NumpyArray predict_array(PyModel& m, nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu> a) {
  const int64_t c = m.channels(), s = m.size();
  if (a.dtype() == nb::dtype<float>()) {
    const bool one = a.ndim() == 3;
    if ((a.ndim() != 3 && a.ndim() != 4) || a.shape(a.ndim() - 3) != static_cast<size_t>(c) ||
        a.shape(a.ndim() - 2) != static_cast<size_t>(s) || a.shape(a.ndim() - 1) != static_cast<size_t>(s))
      throw nb::value_error(("predict: a float32 array must be normalised NCHW input of shape (N, " +
                             std::to_string(c) + ", " + std::to_string(s) + ", " + std::to_string(s) +
                             "), got " + shape_text(a)).c_str());
    const int64_t n = one ? 1 : static_cast<int64_t>(a.shape(0));
    Tensor input = Tensor::empty(Shape{n, c, s, s}, DType::F32);
    std::memcpy(input.raw(), a.data(), input.nbytes());
    return probabilities(m, input);
  }
  if (a.dtype() != nb::dtype<uint8_t>())
    throw nb::type_error("predict: expected uint8 images (N, H, W, C) or float32 normalised input "
                         "(N, C, H, W); convert the array with .astype(numpy.uint8) or "
                         ".astype(numpy.float32)");
  const size_t nd = a.ndim();
  if (nd < 2 || nd > 4)
    throw nb::value_error(("predict: uint8 images must be (N, H, W, C), (H, W, C) or (H, W), got " +
                           shape_text(a)).c_str());
  const bool batched = nd == 4;
  const int64_t n = batched ? static_cast<int64_t>(a.shape(0)) : 1;
  const int64_t h = static_cast<int64_t>(a.shape(batched ? 1 : 0)), w = static_cast<int64_t>(a.shape(batched ? 2 : 1));
  const int64_t ch = nd == 2 ? 1 : static_cast<int64_t>(a.shape(nd - 1));
  if (ch != 1 && ch != 3 && ch != 4)
    throw nb::value_error(("predict: images need 1, 3 or 4 channels (last axis), got shape " + shape_text(a)).c_str());
  if (n == 0 || h == 0 || w == 0) throw nb::value_error(("predict: empty array " + shape_text(a)).c_str());
  const Transform transform(eval_transform(m.model.info));
  Tensor batch = Tensor::empty(Shape{n, s, s, c}, DType::U8);
  Tensor input = Tensor::empty(Shape{n, c, s, s}, DType::F32);
  {
    nb::gil_scoped_release release;
    const auto* src = static_cast<const uint8_t*>(a.data());
    for (int64_t i = 0; i < n; ++i) {
      SampleData sample;
      sample.kind = SampleData::Kind::Pixels;
      sample.data = src + i * h * w * ch;
      sample.size = static_cast<size_t>(h * w * ch);
      sample.height = h;
      sample.width = w;
      sample.channels = ch;
      CounterRng rng(0, 0, 0);  // evaluation transforms draw nothing
      transform.apply(sample, rng, batch.data<uint8_t>() + i * s * s * c);
    }
    ops::normalize_images(batch, input, m.model.info.mean, m.model.info.std);
  }
  return probabilities(m, input);
}

// What predict returns: probabilities (N, classes) and the class names.
struct PyPrediction {
  nb::object probabilities;
  std::vector<std::string> class_names;
};

bool is_path(nb::handle h) { return PyUnicode_Check(h.ptr()) || nb::hasattr(h, "__fspath__"); }

PyPrediction predict(PyModel& m, nb::object inputs) {
  nb::object os = nb::module_::import_("os");
  std::vector<std::string> paths;
  if (is_path(inputs)) {
    paths.push_back(nb::cast<std::string>(os.attr("fspath")(inputs)));
  } else if (PyList_Check(inputs.ptr()) || PyTuple_Check(inputs.ptr())) {
    for (nb::handle p : inputs) {
      if (!is_path(p))
        throw nb::type_error(("predict: a list must hold image paths, got " + text_of(p.type().attr("__name__"))).c_str());
      paths.push_back(nb::cast<std::string>(os.attr("fspath")(p)));
    }
  }
  PyPrediction out;
  out.class_names = m.model.info.class_names;
  if (!paths.empty() || PyList_Check(inputs.ptr()) || PyTuple_Check(inputs.ptr())) {
    out.probabilities = nb::cast(predict_files_probs(m, paths));
    return out;
  }
  if (!nb::hasattr(inputs, "__array__") && !nb::hasattr(inputs, "__dlpack__"))
    throw nb::type_error(("predict: expected image paths or an array, got " +
                          text_of(inputs.type().attr("__name__"))).c_str());
  nb::object array = nb::module_::import_("numpy").attr("ascontiguousarray")(inputs);
  out.probabilities = nb::cast(predict_array(m, nb::cast<nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>>(array)));
  return out;
}

nb::object state_dict(const PyModel& m) {
  nb::object od = nb::module_::import_("collections").attr("OrderedDict")();
  for (const NamedTensor& t : m.model.graph->state_dict())
    od[t.name.c_str()] = copy_as_numpy(t.tensor).cast(nb::rv_policy::reference);
  return od;
}

nb::dict info(const PyModel& m, int64_t batch) {
  if (batch <= 0) throw nb::value_error("info: batch must be positive");
  const Graph& g = *m.model.graph;
  const std::vector<Shape> shapes = g.layer_output_shapes(batch);
  auto tuple_of = [](const Shape& s) {
    nb::list l;
    for (size_t i = 0; i < s.rank(); ++i) l.append(s.dim(static_cast<int>(i)));
    return nb::tuple(l);
  };
  nb::list layers;
  for (size_t i = 0; i < g.num_layers(); ++i) {
    int64_t params = 0;
    for (const auto& p : g.layer(i).params()) params += p.value.numel();
    nb::dict d;
    d["name"] = g.layer_name(i);
    d["type"] = g.layer(i).type();
    d["output_shape"] = tuple_of(shapes[i]);
    d["parameters"] = params;
    layers.append(d);
  }
  nb::list memory;
  for (int64_t b : {int64_t{1}, int64_t{8}, int64_t{32}, int64_t{64}, batch}) {
    const GraphMemory mem = g.memory_at(b);
    nb::dict d;
    d["batch"] = b;
    d["arena_bytes"] = mem.arena_bytes;
    d["unplanned_bytes"] = mem.unplanned_bytes;
    d["lower_bound_bytes"] = mem.lower_bound_bytes;
    memory.append(d);
  }
  nb::dict out;
  out["weights"] = m.weights;
  out["input_shape"] = tuple_of(g.input_shape());
  out["output_shape"] = tuple_of(g.output_shape(batch));
  out["parameters"] = g.num_parameters();
  out["layers"] = layers;
  out["memory"] = memory;  // the inference plan (a loaded model only runs forward)
  out["device"] = g.device().str();
  return out;
}

}  // namespace

void register_model(nb::module_& m) {
  nb::class_<PyModel>(m, "Model", "A trained model (load() makes one).")
      .def_prop_ro("class_names", [](const PyModel& p) { return p.model.info.class_names; })
      .def_prop_ro("input_shape", [](const PyModel& p) {
        return std::vector<int64_t>{p.channels(), p.size(), p.size()};
      }, "One sample's (C, H, W).")
      .def_prop_ro("mean", [](const PyModel& p) { return p.model.info.mean; })
      .def_prop_ro("std", [](const PyModel& p) { return p.model.info.std; })
      .def_prop_ro("weights", [](const PyModel& p) { return p.weights; }, "The weights file loaded.")
      .def("predict", &predict, nb::arg("inputs"),
           nb::sig("def predict(self, inputs: str | os.PathLike | typing.Sequence[str | os.PathLike] | "
                   "numpy.typing.ArrayLike) -> Prediction"),
           "Classifies image files (JPEG/PNG paths) or an array: uint8 images (N, H, W, C), (H, W, C) "
           "or (H, W), resized and centre-cropped like files, or float32 normalised input "
           "(N, C, H, W). FileNotFoundError for a missing file, DataError for an undecodable one, "
           "TypeError for another dtype, ValueError for a wrong shape.")
      .def("state_dict", &state_dict,
           nb::sig("def state_dict(self) -> collections.OrderedDict[str, numpy.typing.NDArray[typing.Any]]"),
           "Parameters and buffers as NumPy arrays (copies) with torchvision's names, in order.")
      .def("info", &info, nb::arg("batch") = 1,
           "Layers (name, type, output shape, parameters), totals and the memory plan, as data.");
  nb::class_<PyPrediction>(m, "Prediction", "Class probabilities and the class names.")
      .def_ro("probabilities", &PyPrediction::probabilities,
              nb::sig("def probabilities(self) -> numpy.typing.NDArray[numpy.float32]"),
              "float32 (N, classes), rows summing to 1")
      .def_ro("class_names", &PyPrediction::class_names)
      .def_prop_ro("indices", [](const PyPrediction& p) { return p.probabilities.attr("argmax")(1); },
                   nb::sig("def indices(self) -> numpy.typing.NDArray[numpy.intp]"),
                   "the most probable class of each row")
      .def_prop_ro("classes", [](const PyPrediction& p) {
        std::vector<std::string> names;
        for (nb::handle i : p.probabilities.attr("argmax")(1)) names.push_back(p.class_names[nb::cast<size_t>(i)]);
        return names;
      }, "the most probable class name of each row");
  m.def("_load", &load, nb::arg("path"), nb::arg("device") = "cpu");
}

}  // namespace te::py
