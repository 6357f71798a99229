// The public convolution, pooling and flattening functions of ops.h: they
// resolve options into OpAttrs::window and apply the ops of conv.cc and
// pool.cc; flatten and global_avg_pool2d are compositions.
#include "graft/ops/ops.h"

namespace graft {

Tensor global_avg_pool2d(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 4, "global_avg_pool2d: expected an NCHW input of rank 4, got ",
                 x.shape().to_string(), "\n  help: global_avg_pool2d averages the last two axes of [N, C, H, W]");
  return mean(x, {2, 3});
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  const Shape& shape = x.shape();
  GRAFT_CHECK_AS(ShapeError, -shape.rank() <= start_dim && start_dim < shape.rank(), "flatten: start_dim ",
                 start_dim, " is out of range for shape ", shape.to_string(), " (expected ", -shape.rank(),
                 " <= start_dim < ", shape.rank(), ")");
  const int start = static_cast<int>(start_dim < 0 ? start_dim + shape.rank() : start_dim);
  Dims dims;
  int64_t joined = 1;
  for (int d = 0; d < shape.rank(); ++d) {
    if (d < start) {
      dims.push_back(shape[d]);
    } else {
      joined *= shape[d];
    }
  }
  dims.push_back(joined);
  return reshape(x, Shape(dims));
}

}  // namespace graft
