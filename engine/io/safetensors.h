#pragma once
// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the raw
// little-endian tensor data. Files open directly with safetensors.torch.load_file.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/named_tensor.h"
#include "engine/core/tensor.h"

namespace te {

// A file that does not decode as what it should be: truncated, bit-flipped (checksum mismatch,
// safetensors_checksum.h) or not a safetensors file at all. The message names the file.
class DamagedFileError : public IoError { using IoError::IoError; };

// The whole file as bytes: tensors stored in name order, data contiguous. Tensors may live on
// any device (copied to the host). Throws te::Error for an empty, duplicate or reserved name.
std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// encode_safetensors with a whole-file checksum in the metadata (safetensors_checksum.h),
// written with write_file_atomic (never a half-written file).
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Parses and validates `bytes` (header length vs size, JSON, dtypes, shapes, offsets in range
// and contiguous, the checksum when there is one); CPU tensors in name order. Throws
// DamagedFileError naming `source` and the fault.
std::vector<NamedTensor> decode_safetensors(std::string_view bytes, const std::string& source,
                                            std::map<std::string, std::string>* metadata = nullptr);

std::vector<NamedTensor> load_safetensors(const std::string& path,
                                          std::map<std::string, std::string>* metadata = nullptr);

}  // namespace te
