// graft/io/internal/json.h: a small strict JSON parser for file headers that
// may be hostile (the safetensors header).
//
//   JsonValue v = parse_json(text);   // throws JsonError with the byte offset
//   if (v.kind == JsonKind::kObject) for (auto& [key, value] : v.object) ...
//
// RFC 8259 grammar, nothing more: no comments, no trailing commas, no NaN. Depth
// is bounded (kMaxJsonDepth), so a hostile file cannot exhaust the stack.
// Duplicate object keys are kept in order (the caller decides whether they are
// an error). Numbers without fraction or exponent that fit in int64 are
// kInteger; every other number is kNumber (its value is not kept).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace graft::io::internal {

inline constexpr int kMaxJsonDepth = 64;

enum class JsonKind { kNull, kBool, kInteger, kNumber, kString, kArray, kObject };

struct JsonMember;

struct JsonValue {
  JsonKind kind = JsonKind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<JsonMember> object;  // in document order, duplicates kept
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// What a JSON document is, for messages ("an array", "a string").
std::string_view json_kind_name(JsonKind kind);

// A syntax error: what() says what was expected and what was found; offset is
// the byte position in the text.
class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& message, size_t offset)
      : std::runtime_error(message), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

// Parses one JSON value; whitespace may surround it, nothing else may.
JsonValue parse_json(std::string_view text);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values
// above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Appends `text` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view text);

}  // namespace graft::io::internal
