// tests/testing.h: helpers shared by graft's GoogleTest suites.
//
//   std::string what = error_text<ShapeError>([&] { add(a, b); });
//   GRAFT_EXPECT_CONTAINS(what, "add: shapes [2, 3] and [4] do not broadcast");
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace graft::test_util {

// The message of the E that f() throws; a test failure (and "") when it
// throws nothing.
template <typename E, typename F>
std::string error_text(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

}  // namespace graft::test_util

#define GRAFT_EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)
