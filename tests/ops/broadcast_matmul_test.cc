// Broadcasting binary ops and batched / folded matmul against plain-loop
// references, in float and double, and their shape errors.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

// Deterministic, non-symmetric test values.
template <typename T>
Tensor values_of(const Shape& shape, int salt) {
  std::vector<T> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(0.25 * static_cast<double>((i * 5 + salt) % 13) - 1.5);
  return Tensor::from_vector(v, shape);
}

// out[idx] = f(a[idx broadcast], b[idx broadcast]) by explicit index arithmetic.
template <typename T>
std::vector<T> reference_broadcast(const Tensor& a, const Tensor& b, const Shape& out,
                                   const std::function<T(T, T)>& f) {
  std::vector<T> av = a.to_vector<T>(), bv = b.to_vector<T>(), result(static_cast<size_t>(out.numel()));
  const int rank = out.rank();
  auto offset = [&](const Shape& s, int64_t flat) {
    int64_t off = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t i = flat % out[d];
      flat /= out[d];
      int sd = d - (rank - s.rank());
      if (sd < 0) continue;
      if (s[sd] != 1) off += i * stride;
      stride *= s[sd];
    }
    return off;
  };
  for (int64_t i = 0; i < out.numel(); ++i) result[i] = f(av[offset(a.shape(), i)], bv[offset(b.shape(), i)]);
  return result;
}

template <typename T>
class BroadcastTest : public testing::Test {};
using FloatTypes = testing::Types<float, double>;
TYPED_TEST_SUITE(BroadcastTest, FloatTypes);

TYPED_TEST(BroadcastTest, EveryBinaryOpMatchesTheReference) {
  using T = TypeParam;
  struct Pair {
    Shape a, b, out;
  };
  const std::vector<Pair> pairs = {
      {{2, 3}, {3}, {2, 3}},              // bias row
      {{2, 3}, {2, 1}, {2, 3}},           // column
      {{2, 3}, {}, {2, 3}},               // scalar right
      {{}, {2, 3}, {2, 3}},               // scalar left
      {{2, 3, 4}, {3, 1}, {2, 3, 4}},     // rank difference
      {{3, 1}, {1, 4}, {3, 4}},           // both sides broadcast
      {{2, 1, 4}, {3, 1}, {2, 3, 4}},     // both, with a rank difference
      {{4, 1, 2, 3}, {5, 1, 3}, {4, 5, 2, 3}},
  };
  using Op = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<Op, std::function<T(T, T)>>> ops = {
      {add, [](T x, T y) { return x + y; }},
      {sub, [](T x, T y) { return x - y; }},
      {mul, [](T x, T y) { return x * y; }},
      {div, [](T x, T y) { return x / (y + T(2)); }},
      {maximum, [](T x, T y) { return x >= y ? x : y; }},
      {minimum, [](T x, T y) { return x <= y ? x : y; }},
      {less, [](T x, T y) { return T(x < y ? 1 : 0); }},
  };
  for (const Pair& p : pairs) {
    Tensor a = values_of<T>(p.a, 1);
    Tensor b = values_of<T>(p.b, 4);
    for (size_t k = 0; k < ops.size(); ++k) {
      // div gets a divisor kept away from 0.
      Tensor got = k == 3 ? div(a, b + 2.0) : ops[k].first(a, b);
      ASSERT_EQ(got.shape(), p.out) << "op " << k << " " << p.a << " " << p.b;
      std::vector<T> want = reference_broadcast<T>(a, b, p.out, ops[k].second);
      std::vector<T> g = got.template to_vector<T>();
      for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], want[i], 1e-6) << "op " << k << " " << p.a << " " << p.b;
    }
  }
}

TEST(BroadcastTest, LargeBroadcastUsesTheThreadedRowsCorrectly) {
  Tensor a = values_of<float>({300, 257}, 2);
  Tensor col = values_of<float>({300, 1}, 3);
  std::vector<float> want = reference_broadcast<float>(a, col, {300, 257}, [](float x, float y) { return x * y; });
  EXPECT_EQ((a * col).to_vector<float>(), want);
}

// Rows merge across the innermost axes while every input runs through them
// alike, and rows longer than the parallel grain come in pieces: each layout
// below takes one of those paths and must still match the reference.
TEST(BroadcastTest, MergedAndLongRowsMatchTheReference) {
  struct Pair {
    Shape a, b;
  };
  const std::vector<Pair> pairs = {
      {{4, 3, 5, 6}, {3, 1, 1}},   // a per-channel bias: rows of 5 * 6
      {{4, 1, 5}, {4, 1, 1}},      // a size-1 axis inside a merged row
      {{2, 3, 50000}, {3, 1}},     // rows of 50000: two pieces each
      {{3, 40000}, {1}},           // one row of 120000: four pieces, the last short
      {{5, 7, 9000}, {1, 7, 9000}},  // merged rows of 63000 read from a repeated block
  };
  for (const Pair& p : pairs) {
    Tensor a = values_of<float>(p.a, 5);
    Tensor b = values_of<float>(p.b, 6);
    std::vector<float> want = reference_broadcast<float>(a, b, p.a, [](float x, float y) { return x - y; });
    EXPECT_EQ((a - b).to_vector<float>(), want) << p.a << " " << p.b;
    std::vector<float> spread = reference_broadcast<float>(zeros(p.a), b, p.a, [](float, float y) { return y; });
    EXPECT_EQ(broadcast_to(b, p.a).to_vector<float>(), spread) << p.b << " to " << p.a;
  }
}

TEST(BroadcastTest, IncompatibleShapesNameTheOpAndBothShapes) {
  std::string what = error_text<ShapeError>([] { sub(zeros({2, 3, 4}), zeros({3, 5})); });
  GRAFT_EXPECT_CONTAINS(what, "sub: shapes [2, 3, 4] and [3, 5] do not broadcast: axis -1 has 4 vs 5");
  what = error_text<ShapeError>([] { where(zeros({2}), zeros({3}), zeros({2})); });
  GRAFT_EXPECT_CONTAINS(what, "where: shapes [2] and [3] do not broadcast");
  what = error_text<ShapeError>([] { broadcast_to(zeros({2, 3}), {3, 3}); });
  GRAFT_EXPECT_CONTAINS(what, "broadcast_to: shapes [2, 3] and [3, 3] do not broadcast");
}

// C[b] = op(A[b]) op(B[b]) by a triple loop; b_batched false for a shared B.
template <typename T>
std::vector<T> reference_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, int64_t batch, int64_t m,
                                int64_t n, int64_t k, bool b_batched) {
  std::vector<T> av = a.to_vector<T>(), bv = b.to_vector<T>(), c(static_cast<size_t>(batch * m * n));
  for (int64_t s = 0; s < batch; ++s) {
    const T* pa = av.data() + s * m * k;
    const T* pb = bv.data() + (b_batched ? s * k * n : 0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          T x = ta ? pa[p * m + i] : pa[i * k + p];
          T y = tb ? pb[j * k + p] : pb[p * n + j];
          acc += static_cast<double>(x) * static_cast<double>(y);
        }
        c[(s * m + i) * n + j] = static_cast<T>(acc);
      }
    }
  }
  return c;
}

template <typename T>
class MatMulTest : public testing::Test {
 protected:
  static double tolerance() { return std::is_same_v<T, float> ? 1e-4 : 1e-12; }
  void expect_close(const Tensor& got, const std::vector<T>& want) {
    std::vector<T> g = got.to_vector<T>();
    ASSERT_EQ(g.size(), want.size());
    for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], want[i], tolerance()) << "element " << i;
  }
};
TYPED_TEST_SUITE(MatMulTest, FloatTypes);

TYPED_TEST(MatMulTest, BatchedProductsMatchAPlainLoopForEveryTransposeFlag) {
  using T = TypeParam;
  const int64_t batch = 3, m = 4, n = 5, k = 6;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor a = values_of<T>(ta ? Shape{batch, k, m} : Shape{batch, m, k}, 1);
      Tensor b = values_of<T>(tb ? Shape{batch, n, k} : Shape{batch, k, n}, 2);
      Tensor c = matmul(a, b, MatmulOptions().transpose_a(ta).transpose_b(tb));
      EXPECT_EQ(c.shape(), (Shape{batch, m, n}));
      this->expect_close(c, reference_matmul<T>(a, b, ta, tb, batch, m, n, k, true));
    }
  }
  // Rank 4: two batch axes.
  Tensor a = values_of<T>({2, 3, m, k}, 3);
  Tensor b = values_of<T>({2, 3, k, n}, 4);
  this->expect_close(matmul(a, b), reference_matmul<T>(a, b, false, false, 6, m, n, k, true));
}

TYPED_TEST(MatMulTest, Rank3TimesMatrixFoldsTheBatchIntoRows) {
  using T = TypeParam;
  const int64_t batch = 2, m = 3, n = 4, k = 5;
  for (bool tb : {false, true}) {
    Tensor a = values_of<T>({batch, m, k}, 5);
    Tensor b = values_of<T>(tb ? Shape{n, k} : Shape{k, n}, 6);
    Tensor c = matmul(a, b, MatmulOptions().transpose_b(tb));
    EXPECT_EQ(c.shape(), (Shape{batch, m, n}));
    this->expect_close(c, reference_matmul<T>(a, b, false, tb, batch, m, n, k, false));
  }
}

TEST(MatMulTest, ShapeErrorsNameBothShapes) {
  std::string what = error_text<ShapeError>([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); });
  GRAFT_EXPECT_CONTAINS(what, "matmul: batch dimensions differ: a [2, 3, 4], b [3, 4, 5]");
  what = error_text<ShapeError>([] { matmul(zeros({3}), zeros({3, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "matmul: expected operands of rank >= 2, got [3] and [3, 2]");
  what = error_text<ShapeError>([] { matmul(zeros({2, 3, 4}), zeros({3, 5}), MatmulOptions().transpose_a(true)); });
  GRAFT_EXPECT_CONTAINS(what, "matmul: transpose_a is not supported for a batched a [2, 3, 4] with a matrix b [3, 5]");
  what = error_text<DTypeError>([] { matmul(zeros({2, 2}, DType::kInt64), zeros({2, 2}, DType::kInt64)); });
  GRAFT_EXPECT_CONTAINS(what, "matmul: input 0 must be float32 or float64, got int64");
}

TEST(SizeOverflowTest, MatmulWhoseOutputCountOverflowsIsAShapeError) {
  // [2^40, 0] x [0, 2^40]: both inputs are empty, the output would hold 2^80.
  const int64_t big = int64_t{1} << 40;
  Tensor a = Tensor::empty(Shape{big, 0});
  Tensor b = Tensor::empty(Shape{0, big});
  std::string what = error_text<ShapeError>([&] { matmul(a, b); });
  GRAFT_EXPECT_CONTAINS(what, "[1099511627776, 1099511627776] is too large");
}

}  // namespace
}  // namespace graft
