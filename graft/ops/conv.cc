// conv2d and its two gradients, lowered onto BLAS gemm.
//
// For one image and one group, with K = C/groups * KH * KW and P = OH * OW:
//   col [K, P]   = im2col(x)               (each column: one window, flattened)
//   y   [Og, P]  = w [Og, K] * col           (conv2d)
//   dcol[K, P]   = w^T * dy;  dx = col2im(dcol)   (conv2d_grad_input)
//   dw  [Og, K] += dy [Og, P] * col^T        (conv2d_grad_weight)
// A 1x1, stride-1, unpadded convolution's col is x itself, so it skips
// im2col and col2im. Images are split across graft's threads, each running
// single-threaded gemm on its own column buffer; a buffer holds at most
// kColumnBudget elements (a tile of whole output rows), however large the image.
//
// In a build with oneDNN (GRAFT_HAS_DNNL), float32 convolutions run on it
// instead (conv_dnnl.cc: its JIT kernels are about twice as fast as gemm on
// these shapes), unless oneDNN refuses one or the backend is kIm2col.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "graft/ops/internal/conv.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/internal/window.h"
#include "graft/ops/ops.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {
namespace {

// Checks x [N, C, H, W] against w [O, C/groups, KH, KW] under `win`; throws
// ShapeError naming def's op and both shapes.
ConvGeometry conv_geometry(const OpDef& def, const Shape& x, const Shape& w, const Window2d& win) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 4 && w.rank() == 4, def.name,
                 ": expected an input [N, C, H, W] and a weight [O, C/groups, KH, KW], got ", x.to_string(), " and ",
                 w.to_string(), "\n  help: add a batch axis of 1 to a single image");
  check_window(def, win, x);
  GRAFT_CHECK_AS(ShapeError, win.groups >= 1 && x[1] % win.groups == 0 && w[0] % win.groups == 0, def.name,
                 ": ", win.groups, " groups must divide the input's ", x[1], " channels and the weight's ", w[0],
                 " output channels (input ", x.to_string(), ", weight ", w.to_string(), ")");
  GRAFT_CHECK_AS(ShapeError, w[1] * win.groups == x[1], def.name, ": the input ", x.to_string(), " has ", x[1],
                 " channels but the weight ", w.to_string(), " expects ", w[1] * win.groups, " (", w[1],
                 " per group x ", win.groups, " groups)\n  help: the weight is [O, C/groups, KH, KW] (OIHW)");
  ConvGeometry g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = w[0], g.kh = w[2], g.kw = w[3];
  g.groups = win.groups, g.cg = x[1] / win.groups, g.og = w[0] / win.groups;
  g.win = win;
  g.oh = window_output(def, x, &w, win, 0, g.kh);
  g.ow = window_output(def, x, &w, win, 1, g.kw);
  return g;
}

Shape conv_output_shape(const ConvGeometry& g) { return Shape{g.n, g.o, g.oh, g.ow}; }

// The valid output columns [lo, hi) of kernel column j: those whose input
// column ow * stride + j * dilation - pad lies in [0, W).
struct Span {
  int64_t lo, hi;
};
Span valid_columns(const ConvGeometry& g, int64_t j) {
  const int64_t s = g.win.stride[1];
  const int64_t off = j * g.win.dilation[1] - g.win.pad_begin[1];  // input column of ow = 0
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = g.w - off <= 0 ? 0 : (g.w - off + s - 1) / s;
  lo = std::min(lo, g.ow);
  hi = std::clamp(hi, lo, g.ow);
  return {lo, hi};
}

// One row of a column buffer: the OW entries of kernel tap (c, i, j) for one
// output row. It reads input row `ih` (outside [0, H) when the row lies in
// the padding), at input columns q * stride + iw0 for q in [span.lo, span.hi).
struct ColRow {
  int64_t offset;  // of the row in the column buffer
  int64_t input;   // of input row (c, ih) in the [Cg, H, W] input, when ih is inside
  bool inside;     // ih in [0, H)
  Span span;
  int64_t iw0;
};

// Calls f(row) for every row of the column buffer of output rows [r0, r0 + rows).
template <typename F>
void for_each_col_row(const ConvGeometry& g, int64_t r0, int64_t rows, F&& f) {
  const int64_t cols = rows * g.ow;
  for (int64_t c = 0; c < g.cg; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t line = ((c * g.kh + i) * g.kw + j) * cols;
        const Span span = valid_columns(g, j);
        const int64_t iw0 = j * g.win.dilation[1] - g.win.pad_begin[1];
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t ih = (r0 + r) * g.win.stride[0] + i * g.win.dilation[0] - g.win.pad_begin[0];
          f(ColRow{line + r * g.ow, (c * g.h + ih) * g.w, ih >= 0 && ih < g.h, span, iw0});
        }
      }
    }
  }
}

// col[K, rows * OW] for output rows [r0, r0 + rows) of one group's channels
// `x` [Cg, H, W]; positions in the padding are zero.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t r0, int64_t rows, T* col) {
  const int64_t sw = g.win.stride[1];
  for_each_col_row(g, r0, rows, [&](const ColRow& row) {
    T* dst = col + row.offset;
    if (!row.inside) {
      std::fill(dst, dst + g.ow, T(0));
      return;
    }
    const T* src = x + row.input;  // q * sw + iw0 lies in [0, W) for q in the span
    std::fill(dst, dst + row.span.lo, T(0));
    if (sw == 1 && row.span.lo < row.span.hi) {
      std::copy(src + row.span.lo + row.iw0, src + row.span.hi + row.iw0, dst + row.span.lo);
    } else {
      for (int64_t q = row.span.lo; q < row.span.hi; ++q) dst[q] = src[q * sw + row.iw0];
    }
    std::fill(dst + row.span.hi, dst + g.ow, T(0));
  });
}

// The adjoint of im2col: adds col's entries into dx [Cg, H, W] (padding
// positions are dropped).
template <typename T>
void col2im(const ConvGeometry& g, const T* col, int64_t r0, int64_t rows, T* dx) {
  const int64_t sw = g.win.stride[1];
  for_each_col_row(g, r0, rows, [&](const ColRow& row) {
    if (!row.inside) return;
    const T* src = col + row.offset;
    for (int64_t q = row.span.lo; q < row.span.hi; ++q) dx[row.input + q * sw + row.iw0] += src[q];
  });
}

// A per-thread buffer reused across calls, so a steady-state step allocates
// no column buffers.
template <typename T>
T* scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

int64_t thread_parts(int64_t count) { return std::min<int64_t>(count, num_threads()); }

// Runs body(first, last) over [0, count) (images, or blocks of them) split
// across graft's threads. While the threads run, OpenBLAS is held at one
// thread: each gemm is one image's, and two levels of threads would
// oversubscribe the cores. With one part, OpenBLAS keeps its threads.
template <typename Body>
void for_image_blocks(int64_t count, Body&& body) {
  if (thread_parts(count) < 2) {
    if (count > 0) body(0, count);
    return;
  }
  const int saved = blas::num_threads();
  blas::set_num_threads(1);
  try {
    parallel_for(0, count, 1, body);
  } catch (...) {
    blas::set_num_threads(saved);
    throw;
  }
  blas::set_num_threads(saved);
}

// Element offsets of one (image, group) in x, w and y.
struct GroupSlice {
  int64_t x, w, y;
};

// For images [first, last) and every group: direct(slice) for a convolution
// that needs no im2col, else tiled(slice, r0, rows, col) for each tile of
// output rows [r0, r0 + rows), with this thread's column buffer `col`.
template <typename T, typename Direct, typename Tiled>
void for_each_group(const ConvGeometry& g, int64_t first, int64_t last, Direct&& direct, Tiled&& tiled) {
  const int64_t k = g.k(), tile = g.tile_rows();
  for (int64_t n = first; n < last; ++n) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const GroupSlice s{(n * g.c + grp * g.cg) * g.h * g.w, grp * g.og * k, (n * g.o + grp * g.og) * g.p()};
      if (g.direct()) {
        direct(s);
        continue;
      }
      T* col = scratch<T>(static_cast<size_t>(k * tile * g.ow));
      for (int64_t r0 = 0; r0 < g.oh; r0 += tile) tiled(s, r0, std::min(tile, g.oh - r0), col);
    }
  }
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const int64_t k = g.k(), p = g.p();
  for_image_blocks(g.n, [&](int64_t first, int64_t last) {
    for_each_group<T>(
        g, first, last,
        [&](const GroupSlice& s) {
          blas::gemm(false, false, g.og, p, k, T(1), w + s.w, k, x + s.x, p, T(0), y + s.y, p);
        },
        [&](const GroupSlice& s, int64_t r0, int64_t rows, T* col) {
          const int64_t cols = rows * g.ow;
          im2col(g, x + s.x, r0, rows, col);
          blas::gemm(false, false, g.og, cols, k, T(1), w + s.w, k, col, cols, T(0), y + s.y + r0 * g.ow, p);
        });
  });
}

template <typename T>
void conv_grad_input(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t k = g.k(), p = g.p();
  for_image_blocks(g.n, [&](int64_t first, int64_t last) {
    for_each_group<T>(
        g, first, last,
        [&](const GroupSlice& s) {
          blas::gemm(true, false, k, p, g.og, T(1), w + s.w, k, dy + s.y, p, T(0), dx + s.x, p);
        },
        [&](const GroupSlice& s, int64_t r0, int64_t rows, T* col) {
          const int64_t cols = rows * g.ow;
          if (r0 == 0) std::fill(dx + s.x, dx + s.x + g.cg * g.h * g.w, T(0));
          blas::gemm(true, false, k, cols, g.og, T(1), w + s.w, k, dy + s.y + r0 * g.ow, p, T(0), col, cols);
          col2im(g, col, r0, rows, dx + s.x);
        });
  });
}

template <typename T>
void conv_grad_weight(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t k = g.k(), p = g.p();
  const int64_t size = g.o * k;
  // Each part sums its images into its own [O, K] partial; part 0 writes dw.
  const int64_t parts = thread_parts(g.n);
  if (parts == 0) {  // no images: no gradient
    std::fill(dw, dw + size, T(0));
    return;
  }
  std::vector<T> partials(static_cast<size_t>((parts - 1) * size));
  for_image_blocks(parts, [&](int64_t first_part, int64_t last_part) {
    for (int64_t part = first_part; part < last_part; ++part) {
      T* acc = part == 0 ? dw : partials.data() + (part - 1) * size;
      std::fill(acc, acc + size, T(0));
      for_each_group<T>(
          g, g.n * part / parts, g.n * (part + 1) / parts,
          [&](const GroupSlice& s) {
            blas::gemm(false, true, g.og, k, p, T(1), dy + s.y, p, x + s.x, p, T(1), acc + s.w, k);
          },
          [&](const GroupSlice& s, int64_t r0, int64_t rows, T* col) {
            const int64_t cols = rows * g.ow;
            im2col(g, x + s.x, r0, rows, col);
            blas::gemm(false, true, g.og, k, cols, T(1), dy + s.y + r0 * g.ow, p, col, cols, T(1), acc + s.w, k);
          });
    }
  });
  for (int64_t part = 1; part < parts; ++part) {
    const T* src = partials.data() + (part - 1) * size;
    for (int64_t i = 0; i < size; ++i) dw[i] += src[i];
  }
}


ConvBackend initial_backend() {
  const char* env = std::getenv("GRAFT_CONV_BACKEND");
  return env != nullptr && std::strcmp(env, "im2col") == 0 ? ConvBackend::kIm2col : ConvBackend::kAuto;
}

std::atomic<ConvBackend>& backend_setting() {
  static std::atomic<ConvBackend> backend{initial_backend()};
  return backend;
}

// y[n, o] += bias[o] over every output position (the im2col path's bias).
template <typename T>
void add_bias(const ConvGeometry& g, const T* bias, T* y) {
  const int64_t p = g.p();
  parallel_for(0, g.n * g.o, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(p, 1)),
               [&](int64_t first, int64_t last) {
                 for (int64_t plane = first; plane < last; ++plane) {
                   const T b = bias[plane % g.o];
                   T* row = y + plane * p;
                   for (int64_t i = 0; i < p; ++i) row[i] += b;
                 }
               });
}

// Runs one of the three passes on in[0], in[1] into out: float32 on oneDNN
// when the backend is kAuto and oneDNN takes the geometry, else im2col. A
// third input is the forward's bias [O].
using DnnlPass = bool (*)(const ConvGeometry&, const float*, const float*, const float*, float*);
template <typename T>
void run_conv(const ConvGeometry& g, std::span<const Tensor> in, const Tensor& out, DnnlPass dnnl,
              void (*im2col)(const ConvGeometry&, const T*, const T*, T*)) {
  const T *a = in[0].data<T>(), *b = in[1].data<T>();
  const T* bias = in.size() > 2 ? in[2].data<T>() : nullptr;
  T* y = out.data<T>();
  if constexpr (std::is_same_v<T, float>) {
    if (GRAFT_HAS_DNNL && conv_backend() == ConvBackend::kAuto && dnnl(g, a, b, bias, y)) return;
  }
  im2col(g, a, b, y);
  if (bias != nullptr) add_bias(g, bias, y);
}

}  // namespace

void set_conv_backend(ConvBackend backend) { backend_setting().store(backend, std::memory_order_relaxed); }
ConvBackend conv_backend() { return backend_setting().load(std::memory_order_relaxed); }

// in: x, w and optionally the bias [O].
TensorMeta infer_conv2d(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  GRAFT_CHECK(in.size() == 2 || in.size() == 3, def.name, ": expected 2 or 3 inputs (x, w[, b]), got ", in.size());
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  const ConvGeometry g = conv_geometry(def, in[0].shape(), in[1].shape(), attrs.window);
  if (in.size() == 3) {
    const Shape& b = in[2].shape();
    GRAFT_CHECK_AS(ShapeError, b.rank() == 1 && b[0] == g.o, def.name, ": expected a bias of shape [", g.o,
                   "] (one per output channel of the weight ", in[1].shape().to_string(), "), got ", b.to_string(),
                   "\n  help: the bias is [O]; add a per-channel [1, O, 1, 1] tensor after the convolution instead");
  }
  return {conv_output_shape(g), in[0].dtype()};
}

// in: grad_y, w; attrs.shape: the input's shape.
TensorMeta infer_conv2d_grad_input(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  Shape y = conv_output_shape(conv_geometry(def, attrs.shape, in[1].shape(), attrs.window));
  GRAFT_CHECK_AS(ShapeError, in[0].shape() == y, def.name, ": grad_y has shape ", in[0].shape().to_string(),
                 " but an input ", attrs.shape.to_string(), " and a weight ", in[1].shape().to_string(),
                 " give outputs of shape ", y.to_string());
  return {attrs.shape, in[0].dtype()};
}

// in: x, grad_y; attrs.shape: the weight's shape.
TensorMeta infer_conv2d_grad_weight(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  Shape y = conv_output_shape(conv_geometry(def, in[0].shape(), attrs.shape, attrs.window));
  GRAFT_CHECK_AS(ShapeError, in[1].shape() == y, def.name, ": grad_y has shape ", in[1].shape().to_string(),
                 " but an input ", in[0].shape().to_string(), " and a weight ", attrs.shape.to_string(),
                 " give outputs of shape ", y.to_string());
  return {attrs.shape, in[0].dtype()};
}

void conv2d_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const ConvGeometry g = conv_geometry(op_def(OpKind::kConv2d), in[0].shape(), in[1].shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) { run_conv<T>(g, in, out, dnnl_conv_forward, conv_forward<T>); });
}

void conv2d_grad_input_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const ConvGeometry g = conv_geometry(op_def(OpKind::kConv2dGradInput), out.shape(), in[1].shape(), attrs.window);
  visit_float(out.dtype(), [&]<typename T>(T) { run_conv<T>(g, in, out, dnnl_conv_grad_input, conv_grad_input<T>); });
}

void conv2d_grad_weight_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const ConvGeometry g = conv_geometry(op_def(OpKind::kConv2dGradWeight), in[0].shape(), out.shape(), attrs.window);
  visit_float(out.dtype(),
              [&]<typename T>(T) { run_conv<T>(g, in, out, dnnl_conv_grad_weight, conv_grad_weight<T>); });
}

// All three ops are bilinear and adjoint to each other (conv2d's bias adds
// per channel, so its gradient sums grad_y over all but the channel axis):
//   <conv2d(x, w), dy> = <x, grad_input(dy, w)> = <w, grad_weight(x, dy)>,
// so each one's VJP is made of the other two (and itself).
void conv2d_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& x = c.inputs[0];
  const Tensor& w = c.inputs[1];
  // Eager passes on oneDNN reorder grad_y once for both (a capture runs no
  // kernels here, so the scope is inert there).
  std::optional<ShareGradOutput> share;
  if (c.needs(0) && c.needs(1) && !c.grad_output.is_symbolic() && c.grad_output.dtype() == DType::kFloat32) {
    share.emplace(c.grad_output.data<float>());
  }
  if (c.needs(0)) grad[0] = apply(OpKind::kConv2dGradInput, {c.grad_output, w}, with_shape(c.attrs, x.shape()));
  if (c.needs(1)) grad[1] = apply(OpKind::kConv2dGradWeight, {x, c.grad_output}, with_shape(c.attrs, w.shape()));
  if (c.inputs.size() > 2 && c.needs(2)) grad[2] = sum(c.grad_output, {0, 2, 3});
}

// out = grad_input(dy, w): d dy = conv2d(u, w), d w = grad_weight(u, dy).
void conv2d_grad_input_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& dy = c.inputs[0];
  const Tensor& w = c.inputs[1];
  const Tensor& u = c.grad_output;
  if (c.needs(0)) grad[0] = apply(OpKind::kConv2d, {u, w}, c.attrs);
  if (c.needs(1)) grad[1] = apply(OpKind::kConv2dGradWeight, {u, dy}, with_shape(c.attrs, w.shape()));
}

// out = grad_weight(x, dy): d x = grad_input(dy, v), d dy = conv2d(x, v).
void conv2d_grad_weight_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& x = c.inputs[0];
  const Tensor& dy = c.inputs[1];
  const Tensor& v = c.grad_output;
  if (c.needs(0)) grad[0] = apply(OpKind::kConv2dGradInput, {dy, v}, with_shape(c.attrs, x.shape()));
  if (c.needs(1)) grad[1] = apply(OpKind::kConv2d, {x, v}, c.attrs);
}

}  // namespace graft::ops::internal
