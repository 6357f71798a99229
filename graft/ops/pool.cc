// max_pool2d, avg_pool2d and their gradients: direct loops over each
// (image, channel) plane, planes split across threads.
//
// max_pool2d has two inputs, keys and values: it returns, for each window,
// the value at the position of the window's largest key (the first one, in
// row-major order). The public max_pool2d(x) passes x as both, so the VJP
// routes the gradient to the maxima (max_pool2d_grad), and max_pool2d_grad's
// own VJP picks the upstream gradient at the same maxima (max_pool2d with
// new values): the pair stays closed under differentiation.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <limits>

#include "graft/ops/internal/kernels.h"
#include "graft/ops/internal/window.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {
namespace {

struct PoolGeometry {
  int64_t planes, h, w, oh, ow;
  Window2d win;
};

PoolGeometry pool_geometry(const OpDef& def, const Shape& x, const Window2d& win) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 4, def.name, ": expected an input [N, C, H, W], got ", x.to_string(),
                 "\n  help: add a batch axis of 1 to a single image");
  check_window(def, win, x);
  for (int a = 0; a < 2; ++a) {
    const bool fits = win.kernel[a] >= 1 && win.pad_begin[a] < win.kernel[a] && win.pad_end[a] < win.kernel[a];
    GRAFT_CHECK_AS(ShapeError, fits, def.name, ": a ", win.kernel[0], "x", win.kernel[1],
                   " window needs padding smaller than itself, got ", win.pad_begin[a], " and ", win.pad_end[a],
                   " on axis ", a + 2, " of input ", x.to_string(),
                   "\n  help: a window made only of padding has no value");
  }
  PoolGeometry g{};
  g.planes = x[0] * x[1], g.h = x[2], g.w = x[3];
  g.win = win;
  g.oh = window_output(def, x, nullptr, win, 0, win.kernel[0]);
  g.ow = window_output(def, x, nullptr, win, 1, win.kernel[1]);
  return g;
}

Shape pool_output_shape(const Shape& x, const PoolGeometry& g) { return Shape{x[0], x[1], g.oh, g.ow}; }

// The in-bounds part of output (oh, ow)'s window: rows [h0, h1), columns [w0, w1).
struct Box {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};
Box window_box(const PoolGeometry& g, int64_t oh, int64_t ow) {
  const int64_t top = oh * g.win.stride[0] - g.win.pad_begin[0];
  const int64_t left = ow * g.win.stride[1] - g.win.pad_begin[1];
  return {std::max<int64_t>(top, 0), std::min(top + g.win.kernel[0], g.h), std::max<int64_t>(left, 0),
          std::min(left + g.win.kernel[1], g.w)};
}

// Calls body(plane, oh, ow, box) for every output of every plane, planes
// split across threads (each plane is written by one thread only).
template <typename Body>
void for_each_window(const PoolGeometry& g, Body&& body) {
  const int64_t work = std::max<int64_t>(1, g.oh * g.ow * g.win.kernel[0] * g.win.kernel[1]);
  parallel_for(0, g.planes, std::max<int64_t>(1, kParallelGrain / work), [&](int64_t first, int64_t last) {
    for (int64_t plane = first; plane < last; ++plane) {
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        for (int64_t ow = 0; ow < g.ow; ++ow) body(plane, oh, ow, window_box(g, oh, ow));
      }
    }
  });
}

// The offset within its plane of the window's first largest key.
template <typename T>
int64_t argmax(const PoolGeometry& g, const T* keys, const Box& b) {
  int64_t best = b.h0 * g.w + b.w0;
  for (int64_t i = b.h0; i < b.h1; ++i) {
    for (int64_t j = b.w0; j < b.w1; ++j) {
      if (keys[i * g.w + j] > keys[best]) best = i * g.w + j;
    }
  }
  return best;
}

// 2x2 windows at stride 2 without padding, as every CNN here pools: the
// generic loops spend most of their time on each output's box and loop
// bounds (12% of the CNN training step), so these windows are read directly.
bool is_pair_window(const PoolGeometry& g) {
  const Window2d& v = g.win;
  return v.kernel[0] == 2 && v.kernel[1] == 2 && v.stride[0] == 2 && v.stride[1] == 2 && v.pad_begin[0] == 0 &&
         v.pad_begin[1] == 0 && v.pad_end[0] == 0 && v.pad_end[1] == 0;
}

// Which of a 2x2 window's keys (a, b on the top row, c, d below) is its first
// largest in row-major order, as argmax() picks it (0..3), and that key in
// *top. In integer arithmetic and selects, not branches: GCC turns `?:` on
// the index into jumps, which mispredict about every other window on real
// data (the gradient pass took 11% of the CNN step that way).
template <typename T>
int pair_pick(T a, T b, T c, T d, T* top) {
  int best = 0;
  T m = a;
  const int pb = b > m;
  m = b > m ? b : m;
  best ^= (best ^ 1) & -pb;
  const int pc = c > m;
  m = c > m ? c : m;
  best ^= (best ^ 2) & -pc;
  const int pd = d > m;
  m = d > m ? d : m;
  best ^= (best ^ 3) & -pd;
  *top = m;
  return best;
}

// `v` where `keep`, else +0, bit for bit (no multiply: inf * 0 is NaN).
template <typename T>
T keep_if(T v, bool keep) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  return std::bit_cast<T>(std::bit_cast<Bits>(v) & (Bits{0} - static_cast<Bits>(keep)));
}

// Calls row(out, in) for every output row of 2x2 windows (is_pair_window):
// `out` is the row's offset in the output, `in` that of the top input row
// of its windows; planes split across threads.
template <typename Row>
void for_each_pair_row(const PoolGeometry& g, Row&& row) {
  const int64_t plane = g.h * g.w, out_plane = g.oh * g.ow;
  parallel_for(0, g.planes, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, 4 * out_plane)),
               [&](int64_t first, int64_t last) {
                 for (int64_t p = first; p < last; ++p) {
                   for (int64_t oh = 0; oh < g.oh; ++oh) row(p * out_plane + oh * g.ow, p * plane + 2 * oh * g.w);
                 }
               });
}

void check_grad_shape(const OpDef& def, const Tensor& grad_y, const Shape& x, const PoolGeometry& g) {
  Shape y = pool_output_shape(x, g);
  GRAFT_CHECK_AS(ShapeError, grad_y.shape() == y, def.name, ": grad_y has shape ", grad_y.shape().to_string(),
                 " but an input ", x.to_string(), " gives outputs of shape ", y.to_string());
}


}  // namespace

// in: keys, values (the same shape).
TensorMeta infer_max_pool2d(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[1], 1);
  check_same_dtype(def, in);
  GRAFT_CHECK_AS(ShapeError, in[0].shape() == in[1].shape(), def.name, ": keys ", in[0].shape().to_string(),
                 " and values ", in[1].shape().to_string(), " differ in shape");
  return {pool_output_shape(in[0].shape(), pool_geometry(def, in[0].shape(), attrs.window)), in[1].dtype()};
}

// in: x, grad_y.
TensorMeta infer_max_pool2d_grad(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[1], 1);
  check_same_dtype(def, in);
  check_grad_shape(def, in[1], in[0].shape(), pool_geometry(def, in[0].shape(), attrs.window));
  return {in[0].shape(), in[1].dtype()};
}

TensorMeta infer_avg_pool2d(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  return {pool_output_shape(in[0].shape(), pool_geometry(def, in[0].shape(), attrs.window)), in[0].dtype()};
}

// in: grad_y; attrs.shape: the input's shape.
TensorMeta infer_avg_pool2d_grad(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  check_grad_shape(def, in[0], attrs.shape, pool_geometry(def, attrs.shape, attrs.window));
  return {attrs.shape, in[0].dtype()};
}

void max_pool2d_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const PoolGeometry g = pool_geometry(op_def(OpKind::kMaxPool2d), in[0].shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) {
    const T* keys = in[0].data<T>();
    const T* values = in[1].data<T>();
    T* y = out.data<T>();
    if (is_pair_window(g)) {
      const bool same = keys == values;  // max_pool2d(x): the largest key is the value
      for_each_pair_row(g, [&](int64_t o, int64_t i) {
        const T *k0 = keys + i, *k1 = k0 + g.w, *v0 = values + i, *v1 = v0 + g.w;
        for (int64_t q = 0; q < g.ow; ++q) {
          T top;
          const int best = pair_pick(k0[2 * q], k0[2 * q + 1], k1[2 * q], k1[2 * q + 1], &top);
          if (!same) {  // the gradient's own VJP: values at the keys' maxima
            top = keep_if(v0[2 * q], best == 0);
            top = best == 1 ? v0[2 * q + 1] : top;
            top = best == 2 ? v1[2 * q] : top;
            top = best == 3 ? v1[2 * q + 1] : top;
          }
          y[o + q] = top;
        }
      });
      return;
    }
    const int64_t plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_window(g, [&](int64_t p, int64_t oh, int64_t ow, const Box& b) {
      y[p * out_plane + oh * g.ow + ow] = values[p * plane + argmax(g, keys + p * plane, b)];
    });
  });
}

void max_pool2d_grad_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const PoolGeometry g = pool_geometry(op_def(OpKind::kMaxPool2dGrad), in[0].shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) {
    const T* x = in[0].data<T>();
    const T* dy = in[1].data<T>();
    T* dx = out.data<T>();
    // 2x2 windows write every input they cover; only an odd last row or
    // column (or another window) needs zeros first.
    const bool pairs = is_pair_window(g);
    if (!pairs || g.h != 2 * g.oh || g.w != 2 * g.ow) std::fill(dx, dx + out.numel(), T(0));
    if (pairs) {  // windows do not overlap: each input gets at most one gradient
      for_each_pair_row(g, [&](int64_t o, int64_t i) {
        const T *x0 = x + i, *x1 = x0 + g.w;
        T *d0 = dx + i, *d1 = d0 + g.w;
        for (int64_t q = 0; q < g.ow; ++q) {
          T top;
          const int best = pair_pick(x0[2 * q], x0[2 * q + 1], x1[2 * q], x1[2 * q + 1], &top);
          const T grad = dy[o + q];
          d0[2 * q] = keep_if(grad, best == 0);
          d0[2 * q + 1] = keep_if(grad, best == 1);
          d1[2 * q] = keep_if(grad, best == 2);
          d1[2 * q + 1] = keep_if(grad, best == 3);
        }
      });
      return;
    }
    const int64_t plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_window(g, [&](int64_t p, int64_t oh, int64_t ow, const Box& b) {
      dx[p * plane + argmax(g, x + p * plane, b)] += dy[p * out_plane + oh * g.ow + ow];
    });
  });
}

void avg_pool2d_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const PoolGeometry g = pool_geometry(op_def(OpKind::kAvgPool2d), in[0].shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) {
    const T* x = in[0].data<T>();
    T* y = out.data<T>();
    const int64_t plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_window(g, [&](int64_t p, int64_t oh, int64_t ow, const Box& b) {
      const T* xp = x + p * plane;
      T total = 0;
      for (int64_t i = b.h0; i < b.h1; ++i) {
        for (int64_t j = b.w0; j < b.w1; ++j) total += xp[i * g.w + j];
      }
      y[p * out_plane + oh * g.ow + ow] = total / static_cast<T>(b.count());
    });
  });
}

void avg_pool2d_grad_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const PoolGeometry g = pool_geometry(op_def(OpKind::kAvgPool2dGrad), out.shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) {
    const T* dy = in[0].data<T>();
    T* dx = out.data<T>();
    std::fill(dx, dx + out.numel(), T(0));
    const int64_t plane = g.h * g.w, out_plane = g.oh * g.ow;
    for_each_window(g, [&](int64_t p, int64_t oh, int64_t ow, const Box& b) {
      T* dxp = dx + p * plane;
      const T share = dy[p * out_plane + oh * g.ow + ow] / static_cast<T>(b.count());
      for (int64_t i = b.h0; i < b.h1; ++i) {
        for (int64_t j = b.w0; j < b.w1; ++j) dxp[i * g.w + j] += share;
      }
    });
  });
}

// The keys choose positions and get no gradient (the maximum's position is
// locally constant).
void max_pool2d_vjp(const VjpContext& c, std::span<Tensor> grad) {
  if (c.needs(1)) grad[1] = apply(OpKind::kMaxPool2dGrad, {c.inputs[0], c.grad_output}, c.attrs);
}

// out = max_pool2d_grad(x, dy) is linear in dy: d dy picks u at the maxima.
void max_pool2d_grad_vjp(const VjpContext& c, std::span<Tensor> grad) {
  if (c.needs(1)) grad[1] = apply(OpKind::kMaxPool2d, {c.inputs[0], c.grad_output}, c.attrs);
}

// avg_pool2d and avg_pool2d_grad are linear and adjoint to each other.
void avg_pool2d_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = apply(OpKind::kAvgPool2dGrad, {c.grad_output}, with_shape(c.attrs, c.inputs[0].shape()));
}

void avg_pool2d_grad_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = apply(OpKind::kAvgPool2d, {c.grad_output}, c.attrs);
}

}  // namespace graft::ops::internal
