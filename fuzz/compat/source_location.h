// fuzz/compat/source_location.h: std::source_location for clang 14 on
// libstdc++ 12, force-included (-include) by scripts/fuzz.sh only.
//
// libstdc++ defines std::source_location only when the compiler has
// __builtin_source_location, which clang gained in version 15; Debian's
// libFuzzer here is clang 14's. This stand-in has the same interface, built on
// the __builtin_FILE/LINE/COLUMN/FUNCTION that clang 14 does have. The library
// build (GCC) never sees this file.
#pragma once

#include <source_location>

#if !defined(__cpp_lib_source_location)
namespace std {

struct source_location {
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           unsigned line = __builtin_LINE(),
                                           unsigned column = __builtin_COLUMN()) noexcept {
    source_location loc;
    loc.file_ = file;
    loc.function_ = function;
    loc.line_ = line;
    loc.column_ = column;
    return loc;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr unsigned line() const noexcept { return line_; }
  constexpr unsigned column() const noexcept { return column_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  unsigned line_ = 0;
  unsigned column_ = 0;
};

}  // namespace std
#endif
