#pragma once
// Integrity of the safetensors files the engine writes (checkpoints, training states, best
// weights): metadata "te.crc32c" holds the CRC-32C, as 8 hex digits, of the whole file as it
// reads with those 8 digits set to '0'. A truncated or bit-flipped file is refused before any
// of it is used, instead of loading as wrong numbers. Files without the key (written by other
// tools or before the key existed) load unchecked.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace te {

inline constexpr const char* kChecksumKey = "te.crc32c";
inline constexpr const char* kChecksumPlaceholder = "00000000";

// `bytes` was encoded with metadata[kChecksumKey] = kChecksumPlaceholder: writes the checksum
// over the placeholder (same length, so no offset moves).
void seal_checksum(std::string& bytes, size_t header_len);

// Throws DamagedFileError naming `source` when `metadata` (parsed from the header of `bytes`)
// holds a checksum that the file does not match, or a key one flipped bit away from
// kChecksumKey (which would otherwise pass a damaged file as one without a checksum).
void verify_checksum(std::string_view bytes, size_t header_len,
                     const std::map<std::string, std::string>& metadata, const std::string& source);

}  // namespace te
