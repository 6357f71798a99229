#include "graft/tensor/tensor.h"

#include <gtest/gtest.h>

#include "graft/tensor/parallel.h"

namespace graft {
namespace {

TEST(ShapeTest, NumelStridesAndPrinting) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.strides(), (Dims{12, 4, 1}));
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
}

TEST(ShapeTest, NegativeDimensionIsAShapeError) {
  EXPECT_THROW(Shape({2, -1}), ShapeError);
}

TEST(ShapeTest, NormalizeAxisCountsFromTheEndAndNamesTheOp) {
  EXPECT_EQ(normalize_axis(-1, 3, "sum"), 2);
  try {
    normalize_axis(3, 3, "sum");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("sum: axis 3 is out of range for a tensor of rank 3"), std::string::npos)
        << e.what();
  }
}

TEST(TensorTest, FromVectorRoundTripsAndChecksTheCount) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), ShapeError);
}

TEST(TensorTest, BuffersAre64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000, 100000}) {
    Tensor t = Tensor::empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u) << n;
  }
}

TEST(TensorTest, WrongDtypeAccessIsADTypeError) {
  Tensor t = Tensor::from_vector<double>({1.0});
  EXPECT_THROW(t.data<float>(), DTypeError);
  EXPECT_EQ(t.item<double>(), 1.0);
}

TEST(TensorTest, UndefinedTensorThrowsInsteadOfCrashing) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.shape(), ValueError);
}

TEST(TensorTest, SymbolicTensorHasNoData) {
  Tensor t = Tensor::symbolic({2}, DType::kFloat32);
  EXPECT_TRUE(t.is_symbolic());
  try {
    t.raw_data();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic"), std::string::npos);
  }
}

TEST(TensorTest, CopiesShareAndClonesDoNot) {
  Tensor a = Tensor::from_vector<float>({1, 2});
  Tensor b = a;
  Tensor c = a.clone();
  a.data<float>()[0] = 7;
  EXPECT_EQ(b.data<float>()[0], 7);
  EXPECT_EQ(c.data<float>()[0], 1);
  EXPECT_NE(a.id(), c.id());
}

TEST(TensorTest, CopyFromChecksShapeAndMovesTheVersion) {
  Tensor a = Tensor::from_vector<float>({1, 2});
  uint64_t v = a.version();
  a.copy_from(Tensor::from_vector<float>({3, 4}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_GT(a.version(), v);
  EXPECT_THROW(a.copy_from(Tensor::from_vector<float>({1, 2, 3})), ShapeError);
  EXPECT_THROW(a.copy_from(Tensor::from_vector<double>({1, 2})), DTypeError);
}

// Large copies split across the pool; every byte still lands in place.
TEST(TensorTest, LargeCopiesAcrossThreadsCopyEveryElement) {
  const int saved = num_threads();
  set_num_threads(3);
  const int64_t n = 3 * (int64_t{1} << 17) + 5;  // several chunks and a ragged end
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<double>(i) * 0.5 - 7;
  Tensor src = Tensor::from_vector<double>(values);
  Tensor dst = Tensor::empty({n}, DType::kFloat64);
  dst.copy_from(src);
  EXPECT_EQ(dst.to_vector<double>(), values);
  EXPECT_EQ(src.clone().to_vector<double>(), values);
  set_num_threads(saved);
}

TEST(TensorTest, PrintsValuesShapeAndDtype) {
  Tensor t = Tensor::from_vector<int64_t>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(t.to_string(), "Tensor([[1, 2], [3, 4]], shape=[2, 2], dtype=int64)");
}

}  // namespace
}  // namespace graft
