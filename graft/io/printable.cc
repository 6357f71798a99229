#include "graft/io/printable.h"

#include <cstdint>

#include "graft/io/internal/json.h"

namespace graft::io {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The code point of the n-byte well-formed UTF-8 sequence at the start of s.
uint32_t code_point(std::string_view s, size_t n) {
  uint32_t cp = static_cast<unsigned char>(s[0]) & (0x7f >> n);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3f);
  return cp;
}

// Characters that move or hide text on a terminal: C1 controls (0x9b starts
// an escape sequence on some terminals), line and paragraph separators, and
// the bidirectional embeddings, overrides and isolates.
bool is_hidden(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x200e && cp <= 0x200f) ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c;
}

void append_byte_escape(std::string& out, unsigned char c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: append_byte_escape(out, c);  // other C0 controls and DEL
      }
      ++i;
      continue;
    }
    const size_t n = internal::utf8_length(text.substr(i));
    if (n == 0) {
      append_byte_escape(out, c);
      ++i;
      continue;
    }
    const uint32_t cp = code_point(text.substr(i), n);
    if (is_hidden(cp)) {  // all below U+10000: four digits
      out += "\\u{";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 15];
      out += '}';
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace graft::io
