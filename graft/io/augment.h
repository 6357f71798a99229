// graft/io/augment.h: data augmentation for image batches (random shifts and
// horizontal flips), deterministic in a seed so a resumed run sees the same
// batches.
//
//   Tensor x = shift_and_flip(batch.inputs, ShiftFlipOptions(28).max_shift(2).fill(background), step);
//
// Each image (row i of `images`, float32 [N, side * side] or [N, 1, side,
// side]) moves by (dy, dx) in [-max_shift, max_shift]^2 and is mirrored left
// to right with probability 1/2 when flip is on; pixels that come from
// outside the image take `fill`. The draw for row i depends only on (seed, i).
// Throws ShapeError when a row does not hold side * side pixels.
#pragma once

#include <cstdint>

#include "graft/tensor/tensor.h"

namespace graft::io {

// shift_and_flip's settings.
class ShiftFlipOptions {
 public:
  // Square images of `side` x `side` pixels.
  explicit ShiftFlipOptions(int64_t side) : side_(side) {}
  // The largest shift along each axis, in pixels (2 by default).
  ShiftFlipOptions& max_shift(int64_t s) { max_shift_ = s; return *this; }
  // Mirror half the images left to right (on by default).
  ShiftFlipOptions& flip(bool on) { flip_ = on; return *this; }
  // The value of pixels shifted in from outside (0 by default).
  ShiftFlipOptions& fill(float value) { fill_ = value; return *this; }

  // The values set above, or their defaults.
  int64_t side() const { return side_; }
  int64_t max_shift() const { return max_shift_; }
  bool flip() const { return flip_; }
  float fill() const { return fill_; }

 private:
  int64_t side_;
  int64_t max_shift_ = 2;
  bool flip_ = true;
  float fill_ = 0.0f;
};

// `images` shifted and flipped as the header comment says: a new tensor of
// the same shape; `images` is only read.
Tensor shift_and_flip(const Tensor& images, const ShiftFlipOptions& options, uint64_t seed);

}  // namespace graft::io
