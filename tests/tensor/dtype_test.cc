#include "graft/tensor/dtype.h"

#include <gtest/gtest.h>

#include "graft/base/error.h"

namespace graft {
namespace {

constexpr DType kBogus = static_cast<DType>(200);  // a corrupted value

TEST(DTypeTest, EveryDTypeHasASizeANameAndACppType) {
  for (int i = 0; i < static_cast<int>(DType::kCount); ++i) {
    const DType d = static_cast<DType>(i);
    EXPECT_GT(dtype_size(d), 0u);
    EXPECT_NE(dtype_name(d), "invalid");
    EXPECT_EQ(visit_dtype(d, []<typename T>(T) { return dtype_of<T>(); }), d);
  }
}

TEST(DTypeTest, AnInvalidDTypeIsAnErrorNotFloat32) {
  EXPECT_THROW(visit_dtype(kBogus, []<typename T>(T) { return sizeof(T); }), InternalError);
  EXPECT_THROW(visit_dtype(DType::kCount, []<typename T>(T) { return sizeof(T); }), InternalError);
  EXPECT_THROW(dtype_size(kBogus), InternalError);
  EXPECT_EQ(dtype_name(kBogus), "invalid");
}

}  // namespace
}  // namespace graft
