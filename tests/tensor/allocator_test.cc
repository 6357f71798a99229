#include "graft/tensor/allocator.h"

#include <gtest/gtest.h>

#include "graft/tensor/tensor.h"

namespace graft {
namespace {

TEST(AllocatorTest, RepeatedShapesReuseCachedBuffers) {
  { Tensor warm = Tensor::empty({123, 45}); }
  AllocatorStats before = allocator_stats();
  for (int i = 0; i < 100; ++i) {
    Tensor t = Tensor::empty({123, 45});
  }
  AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.requests - before.requests, 100u);
  EXPECT_EQ(after.cache_hits - before.cache_hits, 100u);
}

TEST(AllocatorTest, BytesInUseReturnToTheirLevel) {
  uint64_t before = allocator_stats().bytes_in_use;
  {
    Tensor t = Tensor::empty({1000});
    EXPECT_GE(allocator_stats().bytes_in_use, before + 4000);
  }
  EXPECT_EQ(allocator_stats().bytes_in_use, before);
}

}  // namespace
}  // namespace graft
