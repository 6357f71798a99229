// graft/ops/internal/window.h: checks and output sizes shared by the
// convolution (conv.cc) and pooling (pool.cc) kernels. Not a public header.
#pragma once

#include <cstdint>
#include <type_traits>

#include "graft/ops/op_table.h"

namespace graft::ops::internal {

// The largest kernel, stride, dilation, padding or group count a window may
// have: no image is that large, and bounding them keeps every size computed
// from them inside int64_t.
inline constexpr int64_t kMaxWindowValue = (int64_t{1} << 31) - 1;

// Throws ShapeError naming def's op and the input shape `x` unless strides,
// dilations and groups are >= 1, paddings >= 0 and all of them (and the
// pooling kernel) at most kMaxWindowValue.
void check_window(const OpDef& def, const Window2d& win, const Shape& x);

// The output size along spatial axis `axis` (0: height, 1: width) of input
// `x` [N, C, H, W] under `win`, for a kernel of `kernel` taps (dilated by
// win.dilation). `weight` is the convolution's weight, or null for a pool
// (named in the error). Throws ShapeError when the padded input is smaller
// than the dilated kernel.
int64_t window_output(const OpDef& def, const Shape& x, const Shape* weight, const Window2d& win, int axis,
                      int64_t kernel);

// Calls f(T{}) with T the float type of `dtype` (the infer functions reject
// the other dtypes before a kernel runs).
template <typename F>
void visit_float(DType dtype, F&& f) {
  visit_dtype(dtype, [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) f(T{});
  });
}

// `attrs` with the output shape of a gradient op set to `shape`.
inline OpAttrs with_shape(const OpAttrs& attrs, const Shape& shape) {
  OpAttrs out = attrs;
  out.shape = shape;
  return out;
}

}  // namespace graft::ops::internal
