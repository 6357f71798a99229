#include "graft/base/error.h"

#include <gtest/gtest.h>

#include "graft/base/check.h"

namespace graft {
namespace {

TEST(ErrorTest, WhatStartsWithTheKindAndGathersContext) {
  ShapeError e("expected [2, 3], got [3, 2]");
  EXPECT_STREQ(e.what(), "graft::ShapeError: expected [2, 3], got [3, 2]");
  e.add_context("while restoring run3.safetensors");
  EXPECT_EQ(std::string(e.what()),
            "graft::ShapeError: expected [2, 3], got [3, 2]\n  while restoring run3.safetensors");
  EXPECT_EQ(e.message(), "expected [2, 3], got [3, 2]");
}

TEST(ErrorTest, CheckThrowsTheRequestedTypeWithTheStreamedMessage) {
  int axis = 5;
  try {
    GRAFT_CHECK_AS(ShapeError, axis < 2, "axis ", axis, " is out of range");
    FAIL() << "GRAFT_CHECK_AS did not throw";
  } catch (const ShapeError& e) {
    EXPECT_EQ(e.message(), "axis 5 is out of range");
  }
  EXPECT_THROW(GRAFT_CHECK(false, "bad"), ValueError);
  EXPECT_NO_THROW(GRAFT_CHECK(true, "never built"));
}

TEST(ErrorTest, InternalAssertNamesTheConditionAndTheFile) {
  try {
    GRAFT_INTERNAL_ASSERT(1 + 1 == 3, "arithmetic");
    FAIL() << "GRAFT_INTERNAL_ASSERT did not throw";
  } catch (const InternalError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("1 + 1 == 3"), std::string::npos) << what;
    EXPECT_NE(what.find("error_test.cc"), std::string::npos) << what;
    EXPECT_NE(what.find("help:"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace graft
