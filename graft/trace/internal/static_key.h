// graft/trace/internal/static_key.h: the part of a compiled function's cache
// key that the static (non-tensor) arguments make.
//
// Each argument adds its type and an exact encoding of its value, both
// length-prefixed, so two calls share a key only when every static argument
// has the same type and the same value: 0.001 and 0.0010000001 differ,
// 2 and 2.0 differ, true and 1 differ, ("a, b", "c") and ("a", "b, c")
// differ. Floating point is written with std::to_chars, whose shortest form
// reads back to the same bits. A readable text goes beside the key for
// explain() and is never compared.
//
//   StaticKey key;
//   add_static_argument(key, 0.001);        // text "0.001"
//   add_static_argument(key, std::string("a, b"));  // text "\"a, b\""
//
// Static arguments may be bool, any integer or character type, float,
// double, long double, an enum, or a string (std::string, std::string_view,
// a C string); any other type is a compile-time error saying so.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

namespace graft::trace::internal {

struct StaticKey {
  std::string bytes;  // compared: types and exact values
  std::string text;   // shown: values as a reader writes them, ", " between

  bool operator==(const StaticKey& other) const { return bytes == other.bytes; }
};

// Appends one argument given its type's name, its exact encoding and its text.
void append_static(StaticKey& key, std::string_view type, std::string_view value, std::string_view text);
// The text of a string (or, quoted with ', a char) argument: quoted, with the
// quote, backslashes and control characters escaped.
std::string quoted(std::string_view s, char quote = '"');

template <typename A>
inline constexpr bool kIsStringArgument =
    std::is_convertible_v<const A&, std::string_view> && !std::is_same_v<std::decay_t<A>, std::nullptr_t>;

template <typename A>
inline constexpr bool kIsStaticArgument =
    std::is_arithmetic_v<A> || std::is_enum_v<A> || kIsStringArgument<A>;

// Writes a number with std::to_chars: the shortest text that reads back to the
// same value for floating point.
template <typename N>
std::string number_text(N value) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

template <typename A>
void add_static_argument(StaticKey& key, const A& arg) {
  static_assert(kIsStaticArgument<A>,
                "graft::function: a static (non-tensor) argument must be bool, an integer, a floating point number, "
                "an enum or a string, so that its exact value can key the cached graph; pass other values as "
                "tensors, or convert them to one of these types");
  const char* type = typeid(A).name();
  if constexpr (std::is_same_v<A, bool>) {
    append_static(key, type, arg ? "true" : "false", arg ? "true" : "false");
  } else if constexpr (std::is_enum_v<A>) {
    std::string value = number_text(static_cast<std::underlying_type_t<A>>(arg));
    append_static(key, type, value, value);
  } else if constexpr (std::is_floating_point_v<A>) {
    // The text reads as floating point ("2.0", not "2"), so an explanation
    // never shows an int and a double of one value alike.
    std::string value = number_text(arg);
    bool plain = value.find_first_of(".ein") == std::string::npos;
    append_static(key, type, value, plain ? value + ".0" : value);
  } else if constexpr (std::is_same_v<A, char>) {
    std::string value = number_text(arg);
    append_static(key, type, value, quoted(std::string_view(&arg, 1), '\''));
  } else if constexpr (std::is_arithmetic_v<A>) {
    std::string value = number_text(arg);
    append_static(key, type, value, value);
  } else {
    std::string_view s(arg);
    append_static(key, type, s, quoted(s));
  }
}

}  // namespace graft::trace::internal
