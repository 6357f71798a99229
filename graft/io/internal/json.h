// graft/io/internal/json.h: a small strict JSON parser for file headers that
// may be hostile (the safetensors header).
//
//   JsonValue v = parse_json(text);   // throws JsonError with the byte offset
//   if (v.kind == JsonKind::kObject) for (auto& [key, value] : v.object) ...
//
// RFC 8259 grammar, nothing more: no comments, no trailing commas, no NaN. Depth
// is bounded (kMaxJsonDepth), so a hostile file cannot exhaust the stack.
//
// A JsonValue costs about 100 bytes, a JSON value as little as 2 bytes of
// text, so a tree of a hostile document can be 50 times its size. Readers of
// large hostile documents use parse_json_members, which hands over one
// top-level member at a time, with JsonLimits bounding each member's tree
// (array length, object members, values in all) while it is being built:
//
//   JsonLimits limits;
//   limits.max_array_length = 64;
//   parse_json_members(text, limits, [&](std::string key, JsonValue value) { ... });
// Duplicate object keys are kept in order (the caller decides whether they are
// an error). Numbers without fraction or exponent that fit in int64 are
// kInteger; every other number is kNumber (its value is not kept).
#pragma once

#include <cstdint>
#include <functional>
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

// Bounds on the tree the parser builds, checked as it builds it.
struct JsonLimits {
  // Elements of any one array.
  size_t max_array_length = SIZE_MAX;
  // Members of any one object below the top level (parse_json_members leaves
  // counting the top level's to its caller).
  size_t max_object_members = SIZE_MAX;
  // Values in the whole tree parse_json builds, or in each top-level
  // member's tree for parse_json_members.
  size_t max_values = SIZE_MAX;
  // Why the limits are what they are, appended to a limit's message
  // ("a shape's rank is at most 64").
  std::string array_reason;
  std::string object_reason;
  std::string values_reason;
};

// A syntax error: what() says what was expected and what was found; offset is
// the byte position in the text; member is the top-level key whose value was
// being parsed (parse_json_members), or empty.
class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& message, size_t offset)
      : std::runtime_error(message), offset_(offset) {}
  size_t offset() const { return offset_; }
  const std::string& member() const { return member_; }
  void set_member(std::string member) { member_ = std::move(member); }

 private:
  size_t offset_;
  std::string member_;
};

// Well-formed JSON that exceeds a JsonLimits bound; what() names the bound.
class JsonLimitError : public JsonError {
 public:
  using JsonError::JsonError;
};

// Parses one JSON value; whitespace may surround it, nothing else may.
JsonValue parse_json(std::string_view text, const JsonLimits& limits = {});

// Parses a document that must be one object, calling on_member(key, value)
// for each of its members, in order, as soon as the member's value is parsed;
// only that value's tree is held. Throws JsonError (with member() set when
// the error lies inside a member's value) and whatever on_member throws.
void parse_json_members(std::string_view text, const JsonLimits& limits,
                        const std::function<void(std::string key, JsonValue value)>& on_member);

// Length of the UTF-8 sequence starting at s[0] (s not empty), or 0 when it
// is malformed (overlong forms, surrogates and values above U+10FFFF
// included).
size_t utf8_length(std::string_view s);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values
// above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Appends `text` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view text);

}  // namespace graft::io::internal
