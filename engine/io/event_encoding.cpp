#include "engine/io/event_encoding.h"

#include <bit>
#include <cstring>

#include "engine/io/crc32c.h"

namespace te::tfevent {
namespace {
static_assert(std::endian::native == std::endian::little, "event files are little-endian");

template <typename T>
void append_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}
}  // namespace

void ProtoWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void ProtoWriter::varint_field(int field, uint64_t value) {
  key(field, 0);
  varint(value);
}

void ProtoWriter::fixed64_field(int field, double value) {
  key(field, 1);
  append_le(out_, value);
}

void ProtoWriter::bytes_field(int field, std::string_view bytes) {
  key(field, 2);
  varint(bytes.size());
  out_.append(bytes);
}

void ProtoWriter::fixed32_field(int field, float value) {
  key(field, 5);
  append_le(out_, value);
}

std::string file_version_event(double wall_time) {
  ProtoWriter event;
  event.fixed64_field(1, wall_time);
  event.bytes_field(3, "brain.Event:2");
  return event.bytes();
}

std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  ProtoWriter summary_value;
  summary_value.bytes_field(1, tag);
  summary_value.fixed32_field(2, value);
  ProtoWriter summary;
  summary.bytes_field(1, summary_value.bytes());
  ProtoWriter event;
  event.fixed64_field(1, wall_time);
  event.varint_field(2, static_cast<uint64_t>(step));
  event.bytes_field(5, summary.bytes());
  return event.bytes();
}

std::string tfrecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_le<uint64_t>(out, data.size());
  append_le<uint32_t>(out, masked_crc32c(out.data(), 8));
  out.append(data);
  append_le<uint32_t>(out, masked_crc32c(data.data(), data.size()));
  return out;
}

}  // namespace te::tfevent
