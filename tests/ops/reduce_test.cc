// Reductions over every set of axes of 4-d and 5-d inputs (size-1 dimensions
// among them) against a reference that maps each element to its output slot,
// for each layout the kernel takes: one contiguous block of axes, kept
// dimensions between reduced ones (batch norm's {0, 2, 3}) and the rest; large
// enough that the per-slot path splits across the pool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"

namespace graft {
namespace {

struct Reference {
  std::vector<double> sum, max;
};

Reference reference(const std::vector<double>& x, const Dims& shape, const Dims& axes) {
  const int rank = static_cast<int>(shape.size());
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  int64_t out_n = 1;
  for (int d = 0; d < rank; ++d) out_n *= reduced[static_cast<size_t>(d)] ? 1 : shape[d];
  Reference r{std::vector<double>(static_cast<size_t>(out_n), 0.0),
              std::vector<double>(static_cast<size_t>(out_n), -std::numeric_limits<double>::infinity())};
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t rest = static_cast<int64_t>(i), slot = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t index = rest % shape[d];
      rest /= shape[d];
      if (!reduced[static_cast<size_t>(d)]) {
        slot += index * stride;
        stride *= shape[d];
      }
    }
    r.sum[static_cast<size_t>(slot)] += x[i];
    r.max[static_cast<size_t>(slot)] = std::max(r.max[static_cast<size_t>(slot)], x[i]);
  }
  return r;
}

template <typename T>
void check_every_axis_set(const Dims& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> x(static_cast<size_t>(n));
  // Exactly representable in float, distinct enough that a wrong slot shows.
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<double>((i * 37) % 101) - 50;
  std::vector<T> typed(x.begin(), x.end());
  const Tensor t = Tensor::from_vector<T>(typed, Shape(shape));
  const int rank = static_cast<int>(shape.size());
  for (int mask = 1; mask < (1 << rank); ++mask) {
    Dims axes;
    for (int d = 0; d < rank; ++d) {
      if (mask & (1 << d)) axes.push_back(d);
    }
    const Reference want = reference(x, shape, axes);
    const std::vector<T> got_sum = sum(t, axes).to_vector<T>();
    const std::vector<T> got_max = max(t, axes).to_vector<T>();
    ASSERT_EQ(got_sum.size(), want.sum.size()) << Shape(shape).to_string() << " axes " << Shape(axes).to_string();
    for (size_t i = 0; i < got_sum.size(); ++i) {
      // Integer-valued sums stay exact in either type.
      ASSERT_EQ(static_cast<double>(got_sum[i]), want.sum[i])
          << "sum of " << Shape(shape).to_string() << " over " << Shape(axes).to_string() << " slot " << i;
      ASSERT_EQ(static_cast<double>(got_max[i]), want.max[i])
          << "max of " << Shape(shape).to_string() << " over " << Shape(axes).to_string() << " slot " << i;
    }
  }
}

TEST(ReduceTest, EveryAxisSetOfSmallShapesMatchesTheReference) {
  check_every_axis_set<float>({2, 3, 4, 5});
  check_every_axis_set<double>({2, 3, 4, 5});
  check_every_axis_set<float>({3, 1, 4, 1, 2});  // size-1 dimensions between the others
  check_every_axis_set<double>({1, 5, 1, 3, 1});
}

TEST(ReduceTest, BatchNormAxesOnAShapeLargeEnoughToSplitAcrossThePool) {
  // [N, C, H, W] over {0, 2, 3}: kept channels between reduced blocks.
  check_every_axis_set<float>({16, 32, 14, 14});
}

TEST(ReduceTest, ColumnSumsOfOneWideBlockSplitAcrossThePool) {
  // A bias gradient's shape: [batch, units] over {0} is one block of columns,
  // wider than one stretch of accumulators, split by columns across threads.
  check_every_axis_set<float>({300, 600});
  check_every_axis_set<double>({130, 517});
}

}  // namespace
}  // namespace graft
