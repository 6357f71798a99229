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
      // In 128 bits: an empty input may be far wider than any real image.
      const __int128 total = std::max<__int128>(static_cast<__int128>(out - 1) * s + extent - size, 0);
      *before = static_cast<int64_t>(std::min<__int128>(total / 2, ops::internal::kMaxWindowValue + 1));
      *after = static_cast<int64_t>(std::min<__int128>(total - total / 2, ops::internal::kMaxWindowValue + 1));
      return;
    }
  }
}

// The window of a convolution of x by w. Padding is resolved only for
// rank-4 operands; the op's shape check reports any other rank.
// Checks the window's values as the op will (check_window) before "same"
// padding is computed from them, so that sum cannot overflow first.
void check_options(OpKind kind, const Window2d& win, std::array<int64_t, 2> explicit_pad, const Shape& x) {
  Window2d raw = win;
  raw.pad_begin = raw.pad_end = explicit_pad;
  ops::internal::check_window(op_def(kind), raw, x);
}

Window2d conv_window(OpKind kind, const Shape& x, const Shape& w, const Conv2dOptions& o) {
  Window2d win;
  win.stride = o.stride();
  win.dilation = o.dilation();
  win.groups = o.groups();
  check_options(kind, win, o.padding(), x);
  for (int a = 0; a < 2; ++a) {
    // A kernel too large to span is left to the op's check, which names it.
    const bool images = x.rank() == 4 && w.rank() == 4 && w[2 + a] <= ops::internal::kMaxWindowValue;
    const int64_t extent = images ? win.dilation[a] * (w[2 + a] - 1) + 1 : 1;
    resolve_padding(o.padding_mode(), o.padding()[a], images ? x[2 + a] : 0, extent, win.stride[a],
                    &win.pad_begin[a], &win.pad_end[a]);
  }
  return win;
}

Window2d pool_window(OpKind kind, const Shape& x, const Pool2dOptions& o) {
  Window2d win;
  win.kernel = o.kernel();
  win.stride = o.stride();
  check_options(kind, win, o.padding(), x);
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
  return apply(OpKind::kConv2d, {x, w}, window_attrs(conv_window(OpKind::kConv2d, x.shape(), w.shape(), options)));
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& options) {
  if (!b.defined()) return conv2d(x, w, options);
  return apply(OpKind::kConv2d, {x, w, b}, window_attrs(conv_window(OpKind::kConv2d, x.shape(), w.shape(), options)));
}

Tensor conv2d_grad_input(const Tensor& grad_y, const Tensor& w, const Shape& x_shape, const Conv2dOptions& options) {
  return apply(OpKind::kConv2dGradInput, {grad_y, w},
               window_attrs(conv_window(OpKind::kConv2dGradInput, x_shape, w.shape(), options), x_shape));
}

Tensor conv2d_grad_weight(const Tensor& x, const Tensor& grad_y, const Shape& w_shape, const Conv2dOptions& options) {
  return apply(OpKind::kConv2dGradWeight, {x, grad_y},
               window_attrs(conv_window(OpKind::kConv2dGradWeight, x.shape(), w_shape, options), w_shape));
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return apply(OpKind::kMaxPool2d, {x, x}, window_attrs(pool_window(OpKind::kMaxPool2d, x.shape(), options)));
}

Tensor max_pool2d_grad(const Tensor& x, const Tensor& grad_y, const Pool2dOptions& options) {
  return apply(OpKind::kMaxPool2dGrad, {x, grad_y},
               window_attrs(pool_window(OpKind::kMaxPool2dGrad, x.shape(), options)));
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return apply(OpKind::kAvgPool2d, {x}, window_attrs(pool_window(OpKind::kAvgPool2d, x.shape(), options)));
}

Tensor avg_pool2d_grad(const Tensor& grad_y, const Shape& x_shape, const Pool2dOptions& options) {
  return apply(OpKind::kAvgPool2dGrad, {grad_y},
               window_attrs(pool_window(OpKind::kAvgPool2dGrad, x_shape, options), x_shape));
}

namespace ops::internal {

void check_window(const OpDef& def, const Window2d& win, const Shape& x) {
  const auto fits = [](const std::array<int64_t, 2>& v) {
    return v[0] <= kMaxWindowValue && v[1] <= kMaxWindowValue;
  };
  GRAFT_CHECK_AS(ShapeError,
                 fits(win.kernel) && fits(win.stride) && fits(win.dilation) && fits(win.pad_begin) &&
                     fits(win.pad_end) && win.groups <= kMaxWindowValue,
                 def.name, ": window values must be at most ", kMaxWindowValue, ", got kernel ", win.kernel[0], "x",
                 win.kernel[1], ", stride ", win.stride[0], "x", win.stride[1], ", dilation ", win.dilation[0], "x",
                 win.dilation[1], ", padding ", win.pad_begin[0], "/", win.pad_end[0], " x ", win.pad_begin[1], "/",
                 win.pad_end[1], " and ", win.groups, " groups for input ", x.to_string(),
                 "\n  help: these count pixels and channels; pass the sizes meant (an uninitialised or "
                 "negative-turned-unsigned value is the usual cause)");
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
  // check_window bounds the window's values by 2^31 - 1 and the kernel is
  // bounded here, so only the input's own size can overflow the sums.
  GRAFT_CHECK_AS(ShapeError, kernel <= kMaxWindowValue, def.name, ": a kernel of ", kernel, " taps on axis ",
                 2 + axis, " is larger than the ", kMaxWindowValue, " a window may span (input ", x.to_string(),
                 weight != nullptr ? ", weight " + weight->to_string() : std::string(),
                 ")\n  help: check the weight's shape: it is [O, C/groups, KH, KW]");
  const int64_t extent = win.dilation[axis] * (kernel - 1) + 1;
  int64_t padded = 0;
  const bool sums = !__builtin_add_overflow(x[2 + axis], win.pad_begin[axis], &padded) &&
                    !__builtin_add_overflow(padded, win.pad_end[axis], &padded);
  GRAFT_CHECK_AS(ShapeError, sums, def.name, ": the input ", x.to_string(), " padded by ", win.pad_begin[axis],
                 " and ", win.pad_end[axis], " on axis ", 2 + axis, " is larger than int64 can count",
                 "\n  help: check the input's shape and the padding");
  GRAFT_CHECK_AS(ShapeError, kernel >= 1 && padded >= extent, def.name, ": the input ", x.to_string(), " is ",
                 padded, " wide on axis ", 2 + axis, " with padding, smaller than the ", extent, "-wide ",
                 weight != nullptr ? "kernel of the weight " + weight->to_string() : std::string("pooling window"),
                 "\n  help: pad the input (Padding::kSame) or use a smaller kernel");
  return (padded - extent) / win.stride[axis] + 1;
}

}  // namespace ops::internal

}  // namespace graft
