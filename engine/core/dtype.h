#pragma once
// Element types a tensor can hold. f32 is the compute type; f64 exists for gradient checks on
// the CPU; bf16/f16 are storage types for mixed precision; u8 carries image batches; i32/i64
// carry labels and counters (torchvision's num_batches_tracked is i64).
#include <cstddef>
#include <cstdint>
#include <string>

namespace te {

enum class DType : uint8_t { F32, F64, BF16, F16, U8, I32, I64 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::U8: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::U8: return "u8";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
  }
  return "?";
}

// Maps a C++ type to its DType, so Tensor::data<T>() can check what it is asked for.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };

}  // namespace te
