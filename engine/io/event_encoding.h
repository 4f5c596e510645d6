#pragma once
// The bytes of TensorBoard event files: a few tensorflow.Event protobuf messages and the
// TFRecord framing around them.
//
// Why hand-encoded: we write four fields of two messages (Event, Summary.Value). Protobuf's
// wire format for them is a handful of lines; depending on libprotobuf and generated code for
// that would cost more (build, versions) than it saves.
#include <cstdint>
#include <string>
#include <string_view>

namespace te::tfevent {

// Appends protobuf fields to a message, in the wire format.
class ProtoWriter {
 public:
  void varint_field(int field, uint64_t value);          // wire type 0 (int64 as two's complement)
  void fixed64_field(int field, double value);           // wire type 1
  void bytes_field(int field, std::string_view bytes);   // wire type 2 (string, sub-message)
  void fixed32_field(int field, float value);            // wire type 5
  const std::string& bytes() const { return out_; }

 private:
  void varint(uint64_t value);
  void key(int field, int wire_type) { varint(static_cast<uint64_t>(field) << 3 | wire_type); }
  std::string out_;
};

// Event { wall_time = 1; step = 2; file_version = 3 } for the first record of a file.
std::string file_version_event(double wall_time);

// Event { wall_time = 1; step = 2; summary = 5 { value = 1 { tag = 1; simple_value = 2 } } }.
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);

// TFRecord: u64 length, u32 masked CRC32C of the length, data, u32 masked CRC32C of the data
// (all little-endian).
std::string tfrecord(std::string_view data);

}  // namespace te::tfevent
