#include "graft/io/augment.h"

#include "graft/base/check.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"

namespace graft::io {

Tensor shift_and_flip(const Tensor& images, const ShiftFlipOptions& options, uint64_t seed) {
  const int64_t side = options.side(), pixels = side * side;
  GRAFT_CHECK_AS(DTypeError, images.dtype() == DType::kFloat32, "shift_and_flip expects float32 images, got ",
                 dtype_name(images.dtype()));
  GRAFT_CHECK_AS(ShapeError, images.rank() >= 2 && images.dim(0) > 0 && images.numel() / images.dim(0) == pixels,
                 "shift_and_flip expects images of ", side, "x", side, " pixels ([N, ", pixels, "] or [N, 1, ", side,
                 ", ", side, "]), got shape ", images.shape().to_string());
  GRAFT_CHECK(options.max_shift() >= 0 && options.max_shift() < side, "shift_and_flip: max_shift must be in [0, ",
              side, "), got ", options.max_shift());
  Tensor out = Tensor::empty(images.shape(), DType::kFloat32);
  const float* in = images.data<float>();  // tensors are dense
  float* o = out.data<float>();
  const int64_t span = 2 * options.max_shift() + 1;
  parallel_for(0, images.dim(0), 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t r = random_bits(seed, static_cast<uint64_t>(i));
      const int64_t dy = static_cast<int64_t>(r % span) - options.max_shift();
      const int64_t dx = static_cast<int64_t>((r >> 16) % span) - options.max_shift();
      const bool flip = options.flip() && ((r >> 32) & 1) != 0;
      const float* src = in + i * pixels;
      float* dst = o + i * pixels;
      for (int64_t y = 0; y < side; ++y) {
        const int64_t sy = y + dy;
        for (int64_t x = 0; x < side; ++x) {
          const int64_t sx = (flip ? side - 1 - x : x) + dx;
          dst[y * side + x] = sy < 0 || sy >= side || sx < 0 || sx >= side ? options.fill() : src[sy * side + sx];
        }
      }
    }
  });
  return out;
}

}  // namespace graft::io
