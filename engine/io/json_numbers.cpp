#include "engine/io/json_numbers.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace te {
namespace {

[[noreturn]] void reject(const nlohmann::json& v, const char* expected) {
  throw std::invalid_argument(std::string("expected ") + expected + ", got " + v.dump());
}

}  // namespace

int64_t json_int64(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) reject(v, "a 64-bit integer");
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) reject(v, "an integer");
  return v.get<int64_t>();
}

uint64_t json_uint64(const nlohmann::json& v) {
  if (!v.is_number_unsigned()) reject(v, "a non-negative integer");
  return v.get<uint64_t>();
}

float json_float(const nlohmann::json& v) {
  if (!v.is_number()) reject(v, "a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max())
    reject(v, "a finite number in float range");
  return static_cast<float>(d);
}

std::vector<int64_t> json_int64_list(const nlohmann::json& v) {
  if (!v.is_array()) reject(v, "a list of integers");
  std::vector<int64_t> out;
  for (const auto& e : v) out.push_back(json_int64(e));
  return out;
}

std::vector<float> json_float_list(const nlohmann::json& v) {
  if (!v.is_array()) reject(v, "a list of numbers");
  std::vector<float> out;
  for (const auto& e : v) out.push_back(json_float(e));
  return out;
}

}  // namespace te
