#pragma once
// Numbers from JSON that came from a file. nlohmann's get<int64_t>() converts a float such as
// 1.7e83 with undefined behaviour (and 2.5 silently to 2), and get<float>() overflows the same
// way; these accept only values that fit, and throw std::invalid_argument otherwise (callers
// turn it into their own error naming the file).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace te {

int64_t json_int64(const nlohmann::json& v);
uint64_t json_uint64(const nlohmann::json& v);
// A finite number that fits a float.
float json_float(const nlohmann::json& v);

std::vector<int64_t> json_int64_list(const nlohmann::json& v);
std::vector<float> json_float_list(const nlohmann::json& v);

}  // namespace te
