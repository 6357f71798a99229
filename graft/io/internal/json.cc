#include "graft/io/internal/json.h"

#include <limits>

namespace graft::io::internal {
namespace {

// Printable form of the byte at `pos`, for "found ..." in messages.
std::string describe_at(std::string_view text, size_t pos) {
  if (pos >= text.size()) return "end of header";
  unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
}


void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Parser {
 public:
  Parser(std::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  JsonValue parse_document() {
    skip_whitespace();
    JsonValue value = parse_value(0);
    expect_end();
    return value;
  }

  // The top-level object, one member at a time (see parse_json_members).
  void parse_members(const std::function<void(std::string, JsonValue)>& on_member) {
    skip_whitespace();
    if (peek() != '{' || at_end()) fail("expected '{' to start the top-level object");
    for_each_member([&](std::string key) {
      JsonValue value;
      values_ = 0;  // each member's tree has its own budget
      try {
        value = parse_value(1);
      } catch (JsonError& e) {
        e.set_member(key);
        throw;
      }
      on_member(std::move(key), std::move(value));
    });
    expect_end();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw JsonError(what + ", found " + describe_at(text_, pos_), pos_);
  }

  [[noreturn]] void fail_limit(const std::string& what, size_t limit, const std::string& reason) const {
    throw JsonLimitError(what + " " + std::to_string(limit) + (reason.empty() ? "" : " (" + reason + ")"), pos_);
  }

  void expect_end() {
    skip_whitespace();
    if (pos_ != text_.size()) fail("expected end of header after the top-level value");
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  void expect(char c) {
    if (peek() != c || at_end()) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  void expect_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) fail("expected a JSON value");
    pos_ += word.size();
  }

  JsonValue parse_value(int depth) {
    if (depth >= kMaxJsonDepth) fail("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    // Nested arrays each within max_array_length still multiply (64^4 values
    // in a few levels), so the values of one tree are counted too.
    if (++values_ > limits_.max_values) {
      fail_limit("more values in one tree than the limit of", limits_.max_values, limits_.values_reason);
    }
    JsonValue v;
    switch (peek()) {
      case '{': parse_object(v, depth); break;
      case '[': parse_array(v, depth); break;
      case '"':
        v.kind = JsonKind::kString;
        v.string = parse_string();
        break;
      case 't': expect_word("true"); v.kind = JsonKind::kBool; v.boolean = true; break;
      case 'f': expect_word("false"); v.kind = JsonKind::kBool; break;
      case 'n': expect_word("null"); break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          parse_number(v);
        } else {
          fail("expected a JSON value");
        }
    }
    return v;
  }

  void parse_object(JsonValue& v, int depth) {
    v.kind = JsonKind::kObject;
    for_each_member([&](std::string key) {
      if (v.object.size() >= limits_.max_object_members) {
        fail_limit("object with more members than the limit of", limits_.max_object_members, limits_.object_reason);
      }
      JsonValue value = parse_value(depth + 1);
      v.object.push_back(JsonMember{std::move(key), std::move(value)});
    });
  }

  // Parses '{', then for each member its key and ':', calls on_key(key) to
  // parse the value, and ends at '}'.
  template <typename F>
  void for_each_member(F on_key) {
    expect('{');
    skip_whitespace();
    if (peek() == '}' && !at_end()) {
      ++pos_;
      return;
    }
    while (true) {
      skip_whitespace();
      if (peek() != '"' || at_end()) fail("expected '\"' to start an object key");
      std::string key = parse_string();
      skip_whitespace();
      expect(':');
      skip_whitespace();
      on_key(std::move(key));
      skip_whitespace();
      if (peek() == ',' && !at_end()) {
        ++pos_;
        continue;
      }
      if (peek() == '}' && !at_end()) {
        ++pos_;
        return;
      }
      fail("expected ',' or '}' in an object");
    }
  }

  void parse_array(JsonValue& v, int depth) {
    v.kind = JsonKind::kArray;
    expect('[');
    skip_whitespace();
    if (peek() == ']' && !at_end()) {
      ++pos_;
      return;
    }
    while (true) {
      skip_whitespace();
      if (v.array.size() >= limits_.max_array_length) {
        fail_limit("array with more elements than the limit of", limits_.max_array_length, limits_.array_reason);
      }
      v.array.push_back(parse_value(depth + 1));
      skip_whitespace();
      if (peek() == ',' && !at_end()) {
        ++pos_;
        continue;
      }
      if (peek() == ']' && !at_end()) {
        ++pos_;
        return;
      }
      fail("expected ',' or ']' in an array");
    }
  }

  uint32_t parse_hex4() {
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      uint32_t d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("expected four hex digits after \\u");
      cp = cp * 16 + d;
      ++pos_;
    }
    return cp;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character in a string (escape it)");
      if (c == '\\') {
        ++pos_;
        char e = peek();
        if (at_end()) fail("unterminated escape");
        ++pos_;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = parse_hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff) fail("lone low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (text_.substr(pos_, 2) != "\\u") fail("expected a low surrogate after a high one");
              pos_ += 2;
              uint32_t low = parse_hex4();
              if (low < 0xdc00 || low > 0xdfff) fail("expected a low surrogate after a high one");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            --pos_;
            fail("unknown escape");
        }
        continue;
      }
      size_t n = utf8_length(text_.substr(pos_));
      if (n == 0) fail("invalid UTF-8");
      out.append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  void parse_number(JsonValue& v) {
    size_t start = pos_;
    bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!(peek() >= '0' && peek() <= '9') || at_end()) fail("expected a digit");
    bool fits = true;
    // Accumulate the magnitude as uint64 so INT64_MIN is representable.
    uint64_t magnitude = 0;
    const uint64_t limit = negative ? uint64_t{1} << 63 : uint64_t(std::numeric_limits<int64_t>::max());
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9' && !at_end()) fail("leading zeros are not allowed");
    } else {
      while (!at_end() && peek() >= '0' && peek() <= '9') {
        uint64_t d = static_cast<uint64_t>(peek() - '0');
        if (magnitude > (limit - d) / 10) fits = false;
        if (fits) magnitude = magnitude * 10 + d;
        ++pos_;
      }
    }
    bool integral = true;
    if (peek() == '.' && !at_end()) {
      integral = false;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9') || at_end()) fail("expected a digit after '.'");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if ((peek() == 'e' || peek() == 'E') && !at_end()) {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9') || at_end()) fail("expected a digit in the exponent");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (integral && fits) {
      v.kind = JsonKind::kInteger;
      v.integer = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
    } else {
      v.kind = JsonKind::kNumber;
      v.string = std::string(text_.substr(start, pos_ - start));  // kept for messages
    }
  }

  std::string_view text_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  size_t values_ = 0;  // values of the tree being built
};

}  // namespace

size_t utf8_length(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  if (c < 0x80) return 1;
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  if (c == 0xe0 && byte(1) < 0xa0) return 0;  // overlong
  if (c == 0xed && byte(1) >= 0xa0) return 0;  // surrogate
  if (c == 0xf0 && byte(1) < 0x90) return 0;  // overlong
  if (c == 0xf4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

std::string_view json_kind_name(JsonKind kind) {
  switch (kind) {
    case JsonKind::kNull: return "null";
    case JsonKind::kBool: return "a boolean";
    case JsonKind::kInteger: return "an integer";
    case JsonKind::kNumber: return "a non-integer or out-of-range number";
    case JsonKind::kString: return "a string";
    case JsonKind::kArray: return "an array";
    case JsonKind::kObject: return "an object";
  }
  return "unknown";
}

bool is_valid_utf8(std::string_view text) {
  while (!text.empty()) {
    size_t n = utf8_length(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

JsonValue parse_json(std::string_view text, const JsonLimits& limits) { return Parser(text, limits).parse_document(); }

void parse_json_members(std::string_view text, const JsonLimits& limits,
                        const std::function<void(std::string key, JsonValue value)>& on_member) {
  Parser(text, limits).parse_members(on_member);
}

void append_json_string(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace graft::io::internal
