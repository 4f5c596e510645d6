#include "engine/io/safetensors_checksum.h"

#include <cstdio>
#include <cstring>

#include "engine/io/crc32c.h"
#include "engine/io/safetensors.h"

namespace te {
namespace {

// Offset of the checksum's 8 digits in `bytes`, or npos. Only a metadata string value can be
// followed by `":"` right after the key's closing quote (tensor entries are objects, and quotes
// inside other strings are escaped), so the first match inside the header is the one.
size_t digits_offset(std::string_view bytes, size_t header_len) {
  const std::string pattern = std::string("\"") + kChecksumKey + "\":\"";
  const std::string_view header = bytes.substr(8, header_len);
  const size_t at = header.find(pattern);
  if (at == std::string_view::npos || at + pattern.size() + 8 > header.size())
    return std::string_view::npos;
  return 8 + at + pattern.size();
}

uint32_t checksum_with_placeholder(std::string_view bytes, size_t digits) {
  uint32_t crc = crc32c(bytes.data(), digits);
  crc = crc32c(kChecksumPlaceholder, 8, crc);
  return crc32c(bytes.data() + digits + 8, bytes.size() - digits - 8, crc);
}

std::string hex8(uint32_t v) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", v);
  return text;
}

}  // namespace

void seal_checksum(std::string& bytes, size_t header_len) {
  const size_t digits = digits_offset(bytes, header_len);
  if (digits == std::string::npos) throw Error("seal_checksum: no checksum placeholder in the header");
  const std::string hex = hex8(checksum_with_placeholder(bytes, digits));
  std::memcpy(bytes.data() + digits, hex.data(), 8);
}

void verify_checksum(std::string_view bytes, size_t header_len,
                     const std::map<std::string, std::string>& metadata, const std::string& source) {
  const auto it = metadata.find(kChecksumKey);
  if (it == metadata.end()) {
    const std::string key = kChecksumKey;
    for (const auto& [k, v] : metadata) {
      if (k.size() != key.size()) continue;
      int differing = 0;
      for (size_t i = 0; i < k.size(); ++i) differing += k[i] != key[i];
      if (differing == 1)
        throw DamagedFileError("safetensors file '" + source + "': metadata key '" + k +
                               "' is a damaged '" + key + "': the file is damaged");
    }
    return;
  }
  const std::string& stored = it->second;
  const size_t digits = digits_offset(bytes, header_len);
  if (stored.size() != 8 || digits == std::string_view::npos)
    throw DamagedFileError("safetensors file '" + source + "': the checksum entry '" +
                           kChecksumKey + "' is malformed: the file is damaged");
  const std::string computed = hex8(checksum_with_placeholder(bytes, digits));
  if (computed != stored)
    throw DamagedFileError("safetensors file '" + source + "': checksum mismatch (stored " +
                           stored + ", computed " + computed +
                           "): the file is damaged (truncated, or altered after it was written)");
}

}  // namespace te
