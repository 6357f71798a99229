// graft/base/check.h: checks that throw graft errors.
//
//   GRAFT_CHECK(axis < rank, "axis ", axis, " is out of range for rank ", rank);
//   GRAFT_CHECK_AS(ShapeError, a == b, "expected ", a, ", got ", b);
//   GRAFT_INTERNAL_ASSERT(node != nullptr, "tape entry without an output");
//
// The message arguments are streamed together only when the check fails, so a
// passing check costs one branch.
#pragma once

#include <source_location>
#include <sstream>
#include <string>

#include "graft/base/error.h"

namespace graft::base::internal {

template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <typename E, typename... Args>
[[noreturn]] __attribute__((noinline, cold)) void throw_error(const Args&... args) {
  throw E(str(args...));
}

// "file.cc:42" with the folders stripped, for messages.
std::string format_location(const std::source_location& loc);

}  // namespace graft::base::internal

// A user error: throws graft::ValueError built from the arguments.
#define GRAFT_CHECK(cond, ...) GRAFT_CHECK_AS(::graft::ValueError, cond, __VA_ARGS__)

// A user error of a given graft::Error subclass.
#define GRAFT_CHECK_AS(ErrorType, cond, ...)                          \
  do {                                                                \
    if (!(cond)) [[unlikely]] {                                       \
      ::graft::base::internal::throw_error<ErrorType>(__VA_ARGS__);   \
    }                                                                 \
  } while (false)

// A bug in graft: throws graft::InternalError naming the failed condition and
// where it is.
#define GRAFT_INTERNAL_ASSERT(cond, ...)                                          \
  do {                                                                            \
    if (!(cond)) [[unlikely]] {                                                   \
      ::graft::base::internal::throw_error<::graft::InternalError>(               \
          "internal assertion '" #cond "' failed at ", __FILE__, ":", __LINE__,   \
          ": " __VA_OPT__(, ) __VA_ARGS__,                                        \
          "\n  help: this is a bug in graft; please report it with this message"); \
    }                                                                             \
  } while (false)
