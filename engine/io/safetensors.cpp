#include "engine/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/core/suggest.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors_checksum.h"

namespace te {
namespace {

// The format is little-endian and we copy raw bytes, so the host must be too.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

constexpr const char* kMetadataKey = "__metadata__";
// Same bound as the reference implementation: a larger header is a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

const std::vector<std::pair<DType, std::string>>& dtype_names() {
  static const std::vector<std::pair<DType, std::string>> names = {
      {DType::F32, "F32"}, {DType::F64, "F64"}, {DType::I64, "I64"}, {DType::I32, "I32"},
      {DType::U8, "U8"},   {DType::BF16, "BF16"}, {DType::F16, "F16"}};
  return names;
}

std::string dtype_to_name(DType t) {
  for (const auto& [dtype, name] : dtype_names())
    if (dtype == t) return name;
  throw Error(std::string("safetensors: no name for dtype ") + dtype_name(t));
}

std::vector<std::string> known_dtype_names() {
  std::vector<std::string> out;
  for (const auto& entry : dtype_names()) out.push_back(entry.second);
  return out;
}

// One tensor's header entry, validated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

class Decoder {
 public:
  Decoder(std::string_view bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  std::vector<NamedTensor> decode(std::map<std::string, std::string>* metadata) {
    if (bytes_.size() < 8)
      fail("the file is " + std::to_string(bytes_.size()) +
           " bytes, shorter than the 8-byte header length (truncated?)");
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes_.data(), 8);
    if (header_len == 0 || header_len > kMaxHeaderBytes)
      fail("header length " + std::to_string(header_len) + " is not in [1, " +
           std::to_string(kMaxHeaderBytes) + "]");
    if (header_len > bytes_.size() - 8)
      fail("header length " + std::to_string(header_len) + " exceeds the " +
           std::to_string(bytes_.size() - 8) + " bytes after the length field (truncated?)");
    const std::string_view header = bytes_.substr(8, header_len);
    const std::string_view data = bytes_.substr(8 + header_len);

    nlohmann::json j;
    try {
      j = nlohmann::json::parse(header.begin(), header.end());
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("the header is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) fail("the header is not a JSON object");

    std::map<std::string, std::string> meta;
    if (j.contains(kMetadataKey)) read_metadata(j[kMetadataKey], &meta);
    // The checksum before the entries: a damaged file says so, not which of its symptoms
    // happened to be found first.
    verify_checksum(bytes_, header_len, meta, source_);
    if (metadata)
      for (const auto& [k, v] : meta) (*metadata)[k] = v;
    std::vector<Entry> entries;
    for (const auto& [key, value] : j.items())
      if (key != kMetadataKey) entries.push_back(read_entry(key, value));
    check_layout(entries, data.size());

    std::vector<NamedTensor> out;
    out.reserve(entries.size());
    for (const Entry& e : entries) {  // j.items() is sorted by name, so out is too
      Tensor t = Tensor::empty(e.shape, e.dtype);
      if (t.nbytes()) std::memcpy(t.raw(), data.data() + e.begin, t.nbytes());
      out.push_back({e.name, std::move(t)});
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw DamagedFileError("safetensors file '" + source_ + "': " + what);
  }

  void read_metadata(const nlohmann::json& value, std::map<std::string, std::string>* metadata) {
    if (!value.is_object()) fail("\"__metadata__\" is not a JSON object");
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) fail("metadata value of \"" + k + "\" is not a string");
      if (metadata) (*metadata)[k] = v.get<std::string>();
    }
  }

  Entry read_entry(const std::string& name, const nlohmann::json& v) const {
    const std::string where = "tensor '" + name + "': ";
    if (!v.is_object()) fail(where + "entry is not a JSON object");
    for (const auto& [k, unused] : v.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets")
        fail(where + "unknown key \"" + k + "\" (expected dtype, shape, data_offsets)");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(where + "missing string \"dtype\"");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(where + "missing array \"shape\"");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      fail(where + "\"data_offsets\" must be an array [begin, end]");

    Entry e;
    e.name = name;
    const std::string dtype = v["dtype"].get<std::string>();
    bool known = false;
    for (const auto& [t, n] : dtype_names())
      if (n == dtype) e.dtype = t, known = true;
    if (!known)
      fail(where + "dtype \"" + dtype + "\" is not supported (known: " +
           join(known_dtype_names()) + ")");

    // numel * element size, refusing anything that would overflow 64 bits.
    uint64_t bytes = dtype_size(e.dtype);
    std::vector<int64_t> dims;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail(where + "shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, dim, &bytes))
        fail(where + "shape " + v["shape"].dump() + " is too large");
      dims.push_back(static_cast<int64_t>(dim));
    }
    e.shape = Shape(std::move(dims));
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned()) fail(where + "data_offsets must be non-negative integers");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.end < e.begin)
      fail(where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
           "] end before they begin");
    if (e.end - e.begin != bytes)
      fail(where + "shape " + e.shape.str() + " of " + dtype + " needs " + std::to_string(bytes) +
           " bytes but data_offsets span " + std::to_string(e.end - e.begin));
    return e;
  }

  // Offsets must tile the data section exactly: from 0, no gaps, no overlaps, up to its end.
  void check_layout(const std::vector<Entry>& entries, uint64_t data_size) const {
    std::vector<const Entry*> by_offset;
    for (const Entry& e : entries) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expected = 0;
    for (const Entry* e : by_offset) {
      if (e->end > data_size)
        fail("tensor '" + e->name + "': data_offsets [" + std::to_string(e->begin) + ", " +
             std::to_string(e->end) + "] lie beyond the " + std::to_string(data_size) +
             " data bytes in the file (truncated?)");
      if (e->begin != expected)
        fail("tensor '" + e->name + "': data starts at byte " + std::to_string(e->begin) +
             " but the previous tensor ends at " + std::to_string(expected) +
             " (tensors must be contiguous, without gaps or overlaps)");
      expected = e->end;
    }
    if (expected != data_size)
      fail("the tensors cover " + std::to_string(expected) + " data bytes but the file has " +
           std::to_string(data_size) + " (trailing bytes)");
  }

  std::string_view bytes_;
  const std::string& source_;
};

}  // namespace

std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  std::map<std::string, const Tensor*> sorted;
  for (const NamedTensor& nt : tensors) {
    if (nt.name.empty() || nt.name == kMetadataKey)
      throw Error("safetensors: invalid tensor name '" + nt.name + "'");
    if (!nt.tensor.defined()) throw Error("safetensors: tensor '" + nt.name + "' is undefined");
    if (!sorted.emplace(nt.name, &nt.tensor).second)
      throw Error("safetensors: duplicate tensor name '" + nt.name + "'");
  }

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    header[name] = {{"dtype", dtype_to_name(t->dtype())},
                    {"shape", t->shape().dims()},
                    {"data_offsets", {offset, offset + t->nbytes()}}};
    offset += t->nbytes();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned

  std::string out(8, '\0');
  const uint64_t header_len = json.size();
  std::memcpy(out.data(), &header_len, 8);
  out.reserve(8 + json.size() + offset);
  out += json;
  for (const auto& [name, t] : sorted) {
    const Tensor host = t->to(Device::cpu());
    out.append(static_cast<const char*>(host.raw()), host.nbytes());
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> sealed = metadata;
  sealed[kChecksumKey] = kChecksumPlaceholder;
  std::string bytes = encode_safetensors(tensors, sealed);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  seal_checksum(bytes, header_len);
  write_file_atomic(path, bytes);
}

std::vector<NamedTensor> decode_safetensors(std::string_view bytes, const std::string& source,
                                            std::map<std::string, std::string>* metadata) {
  return Decoder(bytes, source).decode(metadata);
}

std::vector<NamedTensor> load_safetensors(const std::string& path,
                                          std::map<std::string, std::string>* metadata) {
  const std::string bytes = read_file(path);
  return decode_safetensors(bytes, path, metadata);
}

}  // namespace te
