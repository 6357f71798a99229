// The public convolution, pooling and flattening functions of ops.h: they
// resolve options into OpAttrs::window and apply the ops of conv.cc and
// pool.cc; flatten and global_avg_pool2d are compositions.
#include <algorithm>
#include <string>

#include "graft/ops/internal/window.h"
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

namespace {

// Resolves `mode` into pads before/after one spatial axis of `size` inputs
// for a window spanning `extent` inputs (the dilated kernel).
void resolve_padding(Padding mode, int64_t explicit_pad, int64_t size, int64_t extent, int64_t stride,
                     int64_t* before, int64_t* after) {
  switch (mode) {
    case Padding::kExplicit:
      *before = *after = explicit_pad;
      return;
    case Padding::kValid:
      *before = *after = 0;
      return;
    case Padding::kSame: {
      // TensorFlow's SAME: out = ceil(size / stride), the odd element after.
      const int64_t s = std::max<int64_t>(stride, 1);
      const int64_t out = (size + s - 1) / s;
      const int64_t total = std::max<int64_t>((out - 1) * s + extent - size, 0);
      *before = total / 2;
      *after = total - *before;
      return;
    }
  }
}

// The window of a convolution of x by w. Padding is resolved only for
// rank-4 operands; the op's shape check reports any other rank.
Window2d conv_window(const Shape& x, const Shape& w, const Conv2dOptions& o) {
  Window2d win;
  win.stride = o.stride();
  win.dilation = o.dilation();
  win.groups = o.groups();
  for (int a = 0; a < 2; ++a) {
    const bool images = x.rank() == 4 && w.rank() == 4;
    const int64_t extent = images ? win.dilation[a] * (w[2 + a] - 1) + 1 : 1;
    resolve_padding(o.padding_mode(), o.padding()[a], images ? x[2 + a] : 0, extent, win.stride[a],
                    &win.pad_begin[a], &win.pad_end[a]);
  }
  return win;
}

Window2d pool_window(const Shape& x, const Pool2dOptions& o) {
  Window2d win;
  win.kernel = o.kernel();
  win.stride = o.stride();
  for (int a = 0; a < 2; ++a) {
    resolve_padding(o.padding_mode(), o.padding()[a], x.rank() == 4 ? x[2 + a] : 0, win.kernel[a], win.stride[a],
                    &win.pad_begin[a], &win.pad_end[a]);
  }
  return win;
}

OpAttrs window_attrs(const Window2d& win, const Shape& shape = {}) {
  OpAttrs attrs;
  attrs.window = win;
  attrs.shape = shape;
  return attrs;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Conv2dOptions& options) {
  return apply(OpKind::kConv2d, {x, w}, window_attrs(conv_window(x.shape(), w.shape(), options)));
}

Tensor conv2d_grad_input(const Tensor& grad_y, const Tensor& w, const Shape& x_shape, const Conv2dOptions& options) {
  return apply(OpKind::kConv2dGradInput, {grad_y, w}, window_attrs(conv_window(x_shape, w.shape(), options), x_shape));
}

Tensor conv2d_grad_weight(const Tensor& x, const Tensor& grad_y, const Shape& w_shape, const Conv2dOptions& options) {
  return apply(OpKind::kConv2dGradWeight, {x, grad_y}, window_attrs(conv_window(x.shape(), w_shape, options), w_shape));
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return apply(OpKind::kMaxPool2d, {x, x}, window_attrs(pool_window(x.shape(), options)));
}

Tensor max_pool2d_grad(const Tensor& x, const Tensor& grad_y, const Pool2dOptions& options) {
  return apply(OpKind::kMaxPool2dGrad, {x, grad_y}, window_attrs(pool_window(x.shape(), options)));
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return apply(OpKind::kAvgPool2d, {x}, window_attrs(pool_window(x.shape(), options)));
}

Tensor avg_pool2d_grad(const Tensor& grad_y, const Shape& x_shape, const Pool2dOptions& options) {
  return apply(OpKind::kAvgPool2dGrad, {grad_y}, window_attrs(pool_window(x_shape, options), x_shape));
}

namespace ops::internal {

void check_window(const OpDef& def, const Window2d& win, const Shape& x) {
  for (int a = 0; a < 2; ++a) {
    GRAFT_CHECK_AS(ShapeError, win.stride[a] >= 1 && win.dilation[a] >= 1, def.name,
                   ": strides and dilations must be >= 1, got stride ", win.stride[0], "x", win.stride[1],
                   " and dilation ", win.dilation[0], "x", win.dilation[1], " for input ", x.to_string());
    GRAFT_CHECK_AS(ShapeError, win.pad_begin[a] >= 0 && win.pad_end[a] >= 0, def.name,
                   ": padding must be >= 0, got ", win.pad_begin[a], " and ", win.pad_end[a], " on axis ", a + 2,
                   " of input ", x.to_string());
  }
}

int64_t window_output(const OpDef& def, const Shape& x, const Shape* weight, const Window2d& win, int axis,
                      int64_t kernel) {
  const int64_t extent = win.dilation[axis] * (kernel - 1) + 1;
  const int64_t padded = x[2 + axis] + win.pad_begin[axis] + win.pad_end[axis];
  GRAFT_CHECK_AS(ShapeError, kernel >= 1 && padded >= extent, def.name, ": the input ", x.to_string(), " is ",
                 padded, " wide on axis ", 2 + axis, " with padding, smaller than the ", extent, "-wide ",
                 weight != nullptr ? "kernel of the weight " + weight->to_string() : std::string("pooling window"),
                 "\n  help: pad the input (Padding::kSame) or use a smaller kernel");
  return (padded - extent) / win.stride[axis] + 1;
}

}  // namespace ops::internal

}  // namespace graft
