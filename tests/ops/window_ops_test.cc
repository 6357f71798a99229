// conv2d, the pools, global_avg_pool2d and flatten: values against plain-loop
// references (kept here, in tests only), options, and errors.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

TEST(FlattenTest, JoinsTrailingAxesInRowMajorOrder) {
  Tensor x = arange(0, 24, 1, DType::kFloat64);
  Tensor y = flatten(reshape(x, {2, 3, 2, 2}));
  EXPECT_EQ(y.shape(), Shape({2, 12}));
  EXPECT_EQ(y.to_vector<double>(), x.to_vector<double>());
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), 0).shape(), Shape({24}));
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), -1).shape(), Shape({2, 3, 4}));
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), 2).shape(), Shape({2, 3, 4}));
}

TEST(FlattenTest, StartDimOutOfRangeNamesTheShape) {
  Tensor x = zeros({2, 3});
  std::string what = error_text<ShapeError>([&] { flatten(x, 2); });
  GRAFT_EXPECT_CONTAINS(what, "flatten: start_dim 2 is out of range for shape [2, 3]");
}

TEST(GlobalAvgPoolTest, AveragesEachChannel) {
  Tensor x = reshape(arange(0, 16, 1, DType::kFloat64), {2, 2, 2, 2});
  Tensor y = global_avg_pool2d(x);
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1.5, 5.5, 9.5, 13.5}));
}

TEST(GlobalAvgPoolTest, RejectsANonImageInput) {
  std::string what = error_text<ShapeError>([&] { global_avg_pool2d(zeros({2, 3})); });
  GRAFT_EXPECT_CONTAINS(what, "global_avg_pool2d: expected an NCHW input of rank 4, got [2, 3]");
}

}  // namespace
}  // namespace graft
