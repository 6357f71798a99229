// concat, slice, pad, gather, scatter_add and one_hot: values against
// hand-computed or plain-loop results, and their errors.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }
Tensor iota(const Shape& shape) { return reshape(arange(0, static_cast<double>(shape.numel())), shape); }

TEST(ConcatTest, JoinsAlongAnyAxis) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<float>({5, 6}, {1, 2});
  Tensor c = Tensor::from_vector<float>({7, 8}, {2, 1});
  EXPECT_EQ(concat({a, b}, 0).shape(), (Shape{3, 2}));
  EXPECT_EQ(values(concat({a, b}, 0)), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(values(concat({a, c, a}, -1)), (std::vector<float>{1, 2, 7, 1, 2, 3, 4, 8, 3, 4}));
  EXPECT_EQ(values(concat({a})), values(a));
}

TEST(ConcatTest, CopiesEveryDtypeAndLargeInputs) {
  Tensor i = Tensor::from_vector<int64_t>({1, 2, 3});
  EXPECT_EQ(concat({i, i}).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 1, 2, 3}));
  // Enough rows to split across threads; checked against a plain loop.
  Tensor x = iota({70000, 2});
  Tensor y = iota({70000, 3}) * -1.0;
  std::vector<float> got = values(concat({x, y}, 1));
  std::vector<float> xv = values(x), yv = values(y);
  for (int64_t r = 0; r < 70000; ++r) {
    for (int64_t k = 0; k < 5; ++k) {
      float want = k < 2 ? xv[r * 2 + k] : yv[r * 3 + k - 2];
      ASSERT_EQ(got[r * 5 + k], want) << r << "," << k;
    }
  }
}

TEST(ConcatTest, MismatchedShapesNameBothShapes) {
  std::string what = error_text<ShapeError>([] { concat({zeros({2, 3}), zeros({2, 4})}, 0); });
  GRAFT_EXPECT_CONTAINS(what, "concat: input 0 has shape [2, 3] but input 1 has shape [2, 4]");
  what = error_text<ShapeError>([] { concat({zeros({2, 3}), zeros({2, 3, 1})}, 0); });
  GRAFT_EXPECT_CONTAINS(what, "[2, 3, 1]");
  what = error_text<DTypeError>([] { concat({zeros({2}), zeros({2}, DType::kFloat64)}); });
  GRAFT_EXPECT_CONTAINS(what, "concat: input 0 is float32 but input 1 is float64");
  what = error_text<ShapeError>([] { concat({zeros({2}), zeros({2})}, 1); });
  GRAFT_EXPECT_CONTAINS(what, "concat: axis 1 is out of range for a tensor of rank 1");
  what = error_text<ValueError>([] { concat({}); });
  GRAFT_EXPECT_CONTAINS(what, "concat: expected at least one tensor");
}

TEST(SliceTest, TakesABoxWithNegativeAndOmittedBounds) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(values(slice(x, {1, 1}, {3, 3})), (std::vector<float>{5, 6, 9, 10}));
  EXPECT_EQ(values(slice(x, {-1}, {3})), (std::vector<float>{8, 9, 10, 11}));  // axis 1 whole
  EXPECT_EQ(values(slice(x, {0, 3}, {-1, 4})), (std::vector<float>{3, 7}));
  EXPECT_EQ(slice(x, {2, 2}, {2, 4}).shape(), (Shape{0, 2}));
  Tensor y = iota({2, 3, 4});
  EXPECT_EQ(values(slice(y, {1, 0, 2}, {2, 3, 3})), (std::vector<float>{14, 18, 22}));
}

TEST(SliceTest, OutOfRangeBoundsNameTheShape) {
  std::string what = error_text<ShapeError>([] { slice(zeros({2, 3}), {0, 1}, {2, 5}); });
  GRAFT_EXPECT_CONTAINS(what, "slice: axis 1 of shape [2, 3] cannot be sliced from 1 to 5");
  what = error_text<ShapeError>([] { slice(zeros({2, 3}), {1}, {0}); });
  GRAFT_EXPECT_CONTAINS(what, "slice: axis 0 of shape [2, 3] cannot be sliced from 1 to 0");
  what = error_text<ShapeError>([] { slice(zeros({2}), {0, 0}, {1, 1}); });
  GRAFT_EXPECT_CONTAINS(what, "slice: begin has 2 entries and end 2, which do not fit a tensor of shape [2]");
}

TEST(PadTest, SurroundsWithZerosAndUndoesASlice) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor p = pad(x, {1, 0}, {0, 2});
  EXPECT_EQ(p.shape(), (Shape{3, 4}));
  EXPECT_EQ(values(p), (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}));
  EXPECT_EQ(values(slice(p, {1, 0}, {3, 2})), values(x));
  Tensor i = Tensor::from_vector<int64_t>({7});
  EXPECT_EQ(pad(i, {2}, {1}).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 7, 0}));
}

TEST(PadTest, NegativePaddingIsAShapeError) {
  std::string what = error_text<ShapeError>([] { pad(zeros({2, 2}), {0, -1}, {0, 0}); });
  GRAFT_EXPECT_CONTAINS(what, "pad: axis 1 of shape [2, 2] has negative padding -1, 0");
  what = error_text<ShapeError>([] { pad(zeros({2, 2}), {0}, {0}); });
  GRAFT_EXPECT_CONTAINS(what, "pad: expected 2 entries in before and after for shape [2, 2], got 1 and 1");
}

TEST(GatherTest, TakesRowsAlongAnAxisLikeNumPyTake) {
  Tensor x = iota({3, 4});
  Tensor rows = Tensor::from_vector<int64_t>({2, 0, 2});
  EXPECT_EQ(values(gather(x, rows)), (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  Tensor cols = Tensor::from_vector<int64_t>({3, 1, 0, 0}, {2, 2});
  Tensor g = gather(x, cols, 1);
  EXPECT_EQ(g.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(values(g), (std::vector<float>{3, 1, 0, 0, 7, 5, 4, 4, 11, 9, 8, 8}));
  Tensor embeddings = Tensor::from_vector<int64_t>({10, 11, 20, 21}, {2, 2});
  EXPECT_EQ(gather(embeddings, Tensor::from_vector<int64_t>({1, 1})).to_vector<int64_t>(),
            (std::vector<int64_t>{20, 21, 20, 21}));
}

TEST(GatherTest, LargeGatherMatchesAPlainLoop) {
  const int64_t n = 1000, m = 80000;
  Tensor x = iota({n});
  std::vector<int64_t> idx(m);
  for (int64_t j = 0; j < m; ++j) idx[j] = (j * 7919) % n;
  std::vector<float> got = values(gather(x, Tensor::from_vector(idx)));
  for (int64_t j = 0; j < m; ++j) ASSERT_EQ(got[j], static_cast<float>(idx[j])) << j;
}

TEST(GatherTest, BadIndicesNameTheIndexItsPositionAndTheAxis) {
  Tensor x = zeros({3, 2});
  std::string what = error_text<ValueError>([&] { gather(x, Tensor::from_vector<int64_t>({0, 1, 3, 0}, {2, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "gather: index 3 at position [1, 0] of [2, 2] is out of range for axis 0 of x [3, 2]");
  GRAFT_EXPECT_CONTAINS(what, "(expected 0 <= index < 3)");
  what = error_text<ValueError>([&] { gather(x, Tensor::from_vector<int64_t>({-1}), 1); });
  GRAFT_EXPECT_CONTAINS(what, "gather: index -1 at position [0]");
  what = error_text<DTypeError>([&] { gather(x, Tensor::from_vector<float>({0})); });
  GRAFT_EXPECT_CONTAINS(what, "gather: input 1 (the indices) must be int64, got float32");
  what = error_text<ShapeError>([&] { gather(x, Tensor::from_vector<int64_t>({0}), 2); });
  GRAFT_EXPECT_CONTAINS(what, "gather: axis 2 is out of range for a tensor of rank 2");
}

TEST(ScatterAddTest, AddsRepeatedIndicesAndUndoesGather) {
  Tensor updates = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor idx = Tensor::from_vector<int64_t>({2, 0, 2});
  EXPECT_EQ(values(scatter_add(updates, idx, {4, 2})), (std::vector<float>{3, 4, 0, 0, 6, 8, 0, 0}));
  Tensor cols = Tensor::from_vector<int64_t>({1, 1});
  Tensor u2 = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(values(scatter_add(u2, cols, {2, 3}, -1)), (std::vector<float>{0, 3, 0, 0, 7, 0}));
}

TEST(ScatterAddTest, WrongUpdateShapeNamesEveryShape) {
  std::string what = error_text<ShapeError>(
      [] { scatter_add(zeros({3, 3}), Tensor::from_vector<int64_t>({0, 1, 0}), {4, 2}); });
  GRAFT_EXPECT_CONTAINS(what, "scatter_add: updates have shape [3, 3] but scattering indices [3] into [4, 2] along axis 0 "
                        "needs updates of shape [3, 2]");
  what = error_text<ValueError>([] { scatter_add(zeros({1, 2}), Tensor::from_vector<int64_t>({4}), {4, 2}); });
  GRAFT_EXPECT_CONTAINS(what, "scatter_add: index 4 at position [0] of [1] is out of range for axis 0 of the output [4, 2]");
}

TEST(OneHotTest, MarksEachIndexAndRejectsOutOfRange) {
  EXPECT_EQ(values(one_hot(Tensor::from_vector<int64_t>({1, 0, 3}), 4)),
            (std::vector<float>{0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(one_hot(Tensor::from_vector<int64_t>({1, 0}, {1, 2}), 2, DType::kFloat64).shape(), (Shape{1, 2, 2}));
  std::string what = error_text<ValueError>([] { one_hot(Tensor::from_vector<int64_t>({1, 4}), 4); });
  GRAFT_EXPECT_CONTAINS(what, "one_hot: index 4 at position [1] of [2] is out of range for depth 4");
  what = error_text<DTypeError>([] { one_hot(Tensor::from_vector<double>({1}), 4); });
  GRAFT_EXPECT_CONTAINS(what, "one_hot: input 0 (the indices) must be int64, got float64");
}

// Empty tensors hold no bytes, so their other dimensions can be huge: the
// joined or reshaped dimensions must still be checked.
TEST(SizeOverflowTest, ConcatWhoseJoinedAxisOverflowsIsAShapeError) {
  const int64_t half = int64_t{1} << 62;
  Tensor a = Tensor::empty(Shape{0, half});
  std::string what = error_text<ShapeError>([&] { concat({a, a}, 1); });
  GRAFT_EXPECT_CONTAINS(what, "concat: joining 2 tensors along axis 1 overflows int64 at input 1 of shape [0, 4611686018427387904]");
  Tensor b = Tensor::empty(Shape{0, half - 1});
  EXPECT_EQ(concat({b, b}, 1).shape(), (Shape{0, 2 * (half - 1)}));
}

TEST(SizeOverflowTest, ReshapeWhoseDimensionsOverflowIsAShapeError) {
  Tensor empty = Tensor::empty(Shape{0});
  std::string what = error_text<ShapeError>([&] { reshape(empty, {-1, int64_t{1} << 62, 4}); });
  GRAFT_EXPECT_CONTAINS(what, "reshape: the dimensions [-1, 4611686018427387904, 4] overflow int64");
  what = error_text<ShapeError>([&] { reshape(empty, {0, int64_t{1} << 62, 4}); });
  GRAFT_EXPECT_CONTAINS(what, "[0, 4611686018427387904, 4] is too large");
}

}  // namespace
}  // namespace graft
