// Sizes that overflow: every count and byte size in the tensor layer is
// checked, a ShapeError names the shape, and the allocator refuses impossible
// requests before asking the system (no test here allocates more than a few
// bytes).
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "graft/base/checked_size.h"
#include "graft/tensor/allocator.h"
#include "graft/tensor/tensor.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2to31 = int64_t{1} << 31;
constexpr int64_t k2to62 = int64_t{1} << 62;

TEST(CheckedSizeTest, MulAndAddReportOverflowInsteadOfWrapping) {
  EXPECT_EQ(checked_mul(k2to31, k2to31), int64_t{1} << 62);
  EXPECT_FALSE(checked_mul(k2to62, 2).has_value());
  EXPECT_FALSE(checked_mul(kMax, kMax).has_value());
  EXPECT_EQ(checked_mul(kMax, 1), kMax);
  EXPECT_EQ(checked_add(k2to62, k2to62 - 1), kMax);
  EXPECT_FALSE(checked_add(k2to62, k2to62).has_value());
}

TEST(CheckedSizeTest, ProductOverflowingOnlyInTheLastMultiplicationIsCaught) {
  const int64_t fits[] = {k2to31, k2to31, 1};        // 2^62
  const int64_t wraps[] = {k2to31, k2to31, 2};       // 2^63: only the last step overflows
  const int64_t wraps_to_zero[] = {k2to31 * 2, k2to31 * 2, 4};  // 2^66 = 0 mod 2^64
  EXPECT_EQ(checked_product(fits), k2to62);
  EXPECT_FALSE(checked_product(wraps).has_value());
  EXPECT_FALSE(checked_product(wraps_to_zero).has_value());
}

TEST(CheckedSizeTest, ZerosGiveZeroButTheOtherDimensionsMustStillFit) {
  const int64_t empty[] = {0, k2to62};
  const int64_t empty_but_huge[] = {0, k2to62, k2to62};
  EXPECT_EQ(checked_product(empty), 0);
  EXPECT_FALSE(checked_product(empty_but_huge).has_value());
}

TEST(ShapeSizeTest, ShapeWhoseCountOverflowsIsAShapeErrorNamingIt) {
  std::string what = error_text<ShapeError>([] { Shape s{k2to62, 4}; });
  GRAFT_EXPECT_CONTAINS(what, "shape [4611686018427387904, 4] is too large");
  GRAFT_EXPECT_CONTAINS(what, "help:");
  what = error_text<ShapeError>([] { Shape s{k2to31, k2to31, 2}; });
  GRAFT_EXPECT_CONTAINS(what, "[2147483648, 2147483648, 2]");
  what = error_text<ShapeError>([] { Shape s{kMax, 2}; });
  GRAFT_EXPECT_CONTAINS(what, "[9223372036854775807, 2]");
  what = error_text<ShapeError>([] { Shape s{0, k2to62, k2to62}; });
  GRAFT_EXPECT_CONTAINS(what, "[0, 4611686018427387904, 4611686018427387904]");
}

TEST(ShapeSizeTest, LargestCountsThatFitAreAccepted) {
  EXPECT_EQ(Shape{kMax}.numel(), kMax);
  EXPECT_EQ((Shape{k2to31, k2to31, 1}).numel(), k2to62);
  Shape empty{0, k2to62, 1};
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.strides()[0], k2to62);
}

TEST(ShapeSizeTest, SetDimChecksAndLeavesTheShapeAloneOnError) {
  Shape s{k2to31, k2to31};
  std::string what = error_text<ShapeError>([&] { s.set_dim(1, k2to31 * 4); });
  GRAFT_EXPECT_CONTAINS(what, "[2147483648, 8589934592] is too large");
  EXPECT_EQ(s, (Shape{k2to31, k2to31}));
  what = error_text<ShapeError>([&] { s.set_dim(0, -1); });
  GRAFT_EXPECT_CONTAINS(what, "non-negative, got -1");
  s.set_dim(0, 3);
  EXPECT_EQ(s.numel(), 3 * k2to31);
}

TEST(TensorSizeTest, ByteSizeThatOverflowsIsAShapeErrorBeforeAnyAllocation) {
  AllocatorStats before = allocator_stats();
  // 2^62 float32 elements need 2^64 bytes: the count fits, the bytes do not
  // (this wrapped to a 0-byte buffer that `add` then wrote past).
  std::string what = error_text<ShapeError>([] { Tensor::empty(Shape{k2to62}); });
  GRAFT_EXPECT_CONTAINS(what, "float32 tensor of shape [4611686018427387904] would need more than 2^63 bytes");
  what = error_text<ShapeError>([] { Tensor::empty(Shape{kMax}, DType::kInt64); });
  GRAFT_EXPECT_CONTAINS(what, "[9223372036854775807]");
  what = error_text<ShapeError>([] { Tensor::empty(Shape{k2to31, k2to31, 1}, DType::kFloat64); });
  GRAFT_EXPECT_CONTAINS(what, "[2147483648, 2147483648, 1]");
  EXPECT_EQ(allocator_stats().requests, before.requests);
}

TEST(TensorSizeTest, SymbolicTensorOfAHugeShapeReportsItsBytesAsAnError) {
  Tensor t = Tensor::symbolic(Shape{k2to62, 1}, DType::kFloat32);
  EXPECT_EQ(t.numel(), k2to62);
  std::string what = error_text<ShapeError>([&] { (void)t.nbytes(); });
  GRAFT_EXPECT_CONTAINS(what, "[4611686018427387904, 1]");
}

TEST(AllocatorSizeTest, ImpossibleRequestsAreRefusedBeforeTheSystemIsAsked) {
  AllocatorStats before = allocator_stats();
  for (size_t n : {std::numeric_limits<size_t>::max(), std::numeric_limits<size_t>::max() - 63,
                   size_t{1} << 63, size_t{1} << 62, kMaxBufferBytes + 1}) {
    SCOPED_TRACE(n);
    std::string what = error_text<ValueError>([&] { allocate_buffer(n); });
    GRAFT_EXPECT_CONTAINS(what, "cannot allocate a tensor buffer of " + std::to_string(n) + " bytes");
    GRAFT_EXPECT_CONTAINS(what, "help:");
  }
  AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(AllocatorSizeTest, TensorAboveTheLimitIsRefusedWithTheAllocatorsMessage) {
  // 2^47 float32 elements: 2^49 bytes, a valid count and byte size, above the
  // allocator's 2^48.
  std::string what = error_text<ValueError>([] { Tensor::empty(Shape{int64_t{1} << 47}); });
  GRAFT_EXPECT_CONTAINS(what, "above the allocator's limit");
}

}  // namespace
}  // namespace graft
