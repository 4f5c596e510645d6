#pragma once
// 16-bit floats on the host: bfloat16 (8-bit exponent, 7-bit mantissa: a float32 with the low
// 16 bits dropped) and IEEE binary16 (5-bit exponent, 10-bit mantissa), converted from float
// with round-to-nearest-even, as the GPU's __float2bfloat16 / __float2half do. Used for
// checkpoints, tests and CPU-side conversions of mixed-precision tensors.
//
// Written here rather than taken from a library: the conversions are a few lines of bit
// manipulation, the CUDA headers' host versions are not available in CPU-only builds, and the
// compiler's _Float16 is not portable across the compilers we build with.
#include <cstdint>
#include <cstring>

namespace te {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  // Round to nearest even on the dropped 16 bits (an overflow carries into the exponent,
  // which correctly rounds the largest finite values to infinity).
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}
inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_f16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (a < 0x38800000u) {
    // Below 2^-14: a subnormal (or zero). Value = m * 2^-24 with m rounded to nearest even.
    if (a < 0x33000000u) return sign;  // below 2^-25: rounds to zero (2^-25 itself is a tie to 0)
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(a >> 23);  // 14..24 + 1
    const uint32_t half_ulp = 1u << (shift - 1), rest = mant & ((1u << shift) - 1);
    uint32_t m = mant >> shift;
    if (rest > half_ulp || (rest == half_ulp && (m & 1u))) ++m;
    return static_cast<uint16_t>(sign | m);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits.
  const uint32_t r = a - 0x38000000u;  // exponent - 112, in place
  const uint32_t rounding = 0x0fffu + ((r >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((r + rounding) >> 13));
}

inline float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf, NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  // Subnormal or zero: mant * 2^-24, exact in float.
  const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
  return sign ? -v : v;
}

}  // namespace te
