// Images kept as bytes: the float32 rows they give equal converting the whole
// set up front (as Fashion-MNIST was held before), and a BatchIterator over
// them yields the batches one over the float32 tensor yields.
#include "graft/io/image_bytes.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/io/batches.h"
#include "tests/testing.h"

namespace graft::io {
namespace {

using test_util::error_text;

constexpr float kMean = 0.2860f, kStd = 0.3530f;

// n rows of `width` pixels, pixel j of row i = (i * 31 + j * 7) % 256.
ImageBytes pattern(int64_t n, int64_t width) {
  std::vector<uint8_t> bytes;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < width; ++j) bytes.push_back(static_cast<uint8_t>((i * 31 + j * 7) % 256));
  }
  return ImageBytes(std::move(bytes), n, width);
}

// The whole set converted at once, the way the loader did before.
Tensor whole_set(const ImageBytes& images, bool normalize) {
  Tensor out = Tensor::empty(images.shape(), DType::kFloat32);
  float* p = out.data<float>();
  for (int64_t i = 0; i < images.size(); ++i) {
    for (int64_t j = 0; j < images.row_size(); ++j) {
      float x = static_cast<float>(images.row(i)[j]) / 255.0f;
      p[i * images.row_size() + j] = normalize ? (x - kMean) / kStd : x;
    }
  }
  return out;
}

TEST(ImageBytesTest, RowsEqualTheWholeSetConvertedUpFront) {
  ImageBytes raw = pattern(9, 13);
  for (bool normalize : {false, true}) {
    ImageBytes images = normalize ? raw.normalized(kMean, kStd) : raw;
    std::vector<float> want = whole_set(raw, normalize).to_vector<float>();
    EXPECT_EQ(images.to_tensor().to_vector<float>(), want);
    std::vector<float> range = images.range(2, 5).to_vector<float>();
    EXPECT_EQ(range, std::vector<float>(want.begin() + 2 * 13, want.begin() + 5 * 13));
    const std::vector<int64_t> rows = {8, 0, 3, 3};
    std::vector<float> gathered = images.gather(rows).to_vector<float>();
    ASSERT_EQ(gathered.size(), rows.size() * 13);
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t j = 0; j < 13; ++j) {
        EXPECT_EQ(gathered[r * 13 + j], want[static_cast<size_t>(rows[r]) * 13 + j]) << "row " << r;
      }
    }
  }
  EXPECT_EQ(raw.head(4).shape(), (Shape{4, 13}));
  EXPECT_EQ(raw.head(4).to_tensor().to_vector<float>(), raw.range(0, 4).to_vector<float>());
}

TEST(ImageBytesTest, BatchesEqualThoseOverTheFloatTensor) {
  ImageBytes images = pattern(23, 5).normalized(kMean, kStd);
  Tensor labels = Tensor::from_vector<int64_t>(std::vector<int64_t>(23, 1));
  for (bool prefetch : {false, true}) {
    BatchIterator from_bytes(images, labels, BatchOptions(4).seed(3).prefetch(prefetch));
    BatchIterator from_floats(images.to_tensor(), labels, BatchOptions(4).seed(3).prefetch(prefetch));
    for (int b = 0; b < 14; ++b) {  // past the end of an epoch
      Batch x = from_bytes.next(), y = from_floats.next();
      EXPECT_EQ(x.inputs.shape(), y.inputs.shape());
      EXPECT_EQ(x.inputs.dtype(), DType::kFloat32);
      EXPECT_EQ(x.inputs.to_vector<float>(), y.inputs.to_vector<float>()) << "batch " << b;
    }
  }
}

TEST(ImageBytesTest, OutOfRangeRowsAndBadSizesAreErrors) {
  ImageBytes images = pattern(3, 2);
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([&] { images.range(1, 4); }), "[1, 4) is not inside [0, 3)");
  const std::vector<int64_t> rows = {0, 3};
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([&] { images.gather(rows); }), "row 3 at position 1 is outside [0, 3)");
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([&] { images.head(4); }), "4 rows asked of 3");
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([] { ImageBytes(std::vector<uint8_t>(5), 2, 3); }),
                        "5 bytes do not make 2 rows of 3 pixels");
  Tensor labels = Tensor::from_vector<int64_t>({0, 1});
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([&] { BatchIterator it(images, labels, BatchOptions(1)); }),
                        "must share their first dimension");
}

}  // namespace
}  // namespace graft::io
