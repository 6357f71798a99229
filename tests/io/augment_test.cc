// shift_and_flip: shifts, flips and fills as drawn, the same for a seed.
#include "graft/io/augment.h"

#include <gtest/gtest.h>

#include "tests/testing.h"

namespace graft::io {
namespace {

// Image i holds pixel values 1000 * i + y * side + x.
Tensor numbered(int64_t n, int64_t side) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < side * side; ++p) v.push_back(static_cast<float>(1000 * i + p));
  return Tensor::from_vector(v, {n, side * side});
}

TEST(AugmentTest, EveryImageIsAShiftedOrFlippedCopyWithFilledBorders) {
  const int64_t n = 64, side = 6;
  Tensor x = numbered(n, side);
  Tensor y = shift_and_flip(x, ShiftFlipOptions(side).max_shift(1).fill(-1.0f), 7);
  ASSERT_EQ(y.shape(), x.shape());
  std::vector<float> out = y.to_vector<float>();
  int flipped = 0, shifted = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool found = false;
    for (int flip = 0; flip < 2 && !found; ++flip)
      for (int64_t dy = -1; dy <= 1 && !found; ++dy)
        for (int64_t dx = -1; dx <= 1 && !found; ++dx) {
          bool match = true;
          for (int64_t r = 0; r < side && match; ++r)
            for (int64_t c = 0; c < side && match; ++c) {
              const int64_t sy = r + dy, sx = (flip ? side - 1 - c : c) + dx;
              const float want = sy < 0 || sy >= side || sx < 0 || sx >= side
                                     ? -1.0f : static_cast<float>(1000 * i + sy * side + sx);
              match = out[i * side * side + r * side + c] == want;
            }
          if (match) {
            found = true;
            flipped += flip;
            shifted += dy != 0 || dx != 0;
          }
        }
    EXPECT_TRUE(found) << "image " << i;
  }
  EXPECT_GT(flipped, 10);
  EXPECT_LT(flipped, 54);
  EXPECT_GT(shifted, 30);
  // Deterministic in the seed, different across seeds.
  EXPECT_EQ(shift_and_flip(x, ShiftFlipOptions(side).max_shift(1).fill(-1.0f), 7).to_vector<float>(), out);
  EXPECT_NE(shift_and_flip(x, ShiftFlipOptions(side).max_shift(1).fill(-1.0f), 8).to_vector<float>(), out);
}

TEST(AugmentTest, WrongImageSizesAreShapeErrors) {
  std::string what = test_util::error_text<ShapeError>([] { shift_and_flip(Tensor::empty({2, 10}), ShiftFlipOptions(3), 1); });
  GRAFT_EXPECT_CONTAINS(what, "expects images of 3x3 pixels ([N, 9] or [N, 1, 3, 3]), got shape [2, 10]");
}

}  // namespace
}  // namespace graft::io
