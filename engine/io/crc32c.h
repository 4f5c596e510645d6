#pragma once
// CRC-32C (Castagnoli), the checksum of TFRecord framing (TensorBoard event files).
#include <cstddef>
#include <cstdint>

namespace te {

// CRC-32C of `size` bytes, continuing from a previous `crc` (0 to start).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// TFRecord's masked form, ((crc >> 15) | (crc << 17)) + 0xa282ead8, which keeps a CRC of data
// that itself contains CRCs from looking valid.
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace te
