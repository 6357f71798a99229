// Batch normalisation with the batch's own statistics as fused ops: one pass
// for the statistics, one to normalise; the backward as one pass for the
// per-channel sums and one for the input gradient. Composed of broadcasting
// elementwise ops and reductions it took about a dozen passes each way
// (about half of a small CNN's training step).
//
// Every op reads x as [N, C, inner]: [N, C] (inner 1) or [N, C, H, W]
// (inner H * W); channel c's elements are N runs of `inner`. Channels split
// across graft's threads; each channel's sums accumulate in double.
#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "graft/ops/internal/kernels.h"
#include "graft/ops/internal/window.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/simd.h"

namespace graft::ops::internal {
namespace {

struct Layout {
  int64_t n, c, inner;
  int64_t count() const { return n * inner; }  // elements per channel
};

// Checks that x is [N, C] or [N, C, H, W] (floating point), and each of
// `per_channel` (gamma, beta) a [C] vector of x's dtype.
Layout layout(const OpDef& def, std::span<const Tensor> in, std::initializer_list<size_t> per_channel) {
  const Shape& x = in[0].shape();
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  GRAFT_CHECK_AS(ShapeError, x.rank() == 2 || x.rank() == 4, def.name, ": expected x [N, C] or [N, C, H, W], got ",
                 x.to_string(), "\n  help: batch norm normalises over every axis but the channel axis 1");
  const Layout l{x[0], x[1], x.rank() == 4 ? x[2] * x[3] : 1};
  for (size_t i : per_channel) {
    GRAFT_CHECK_AS(ShapeError, in[i].shape() == Shape{l.c}, def.name, ": input ", i, " must be [", l.c,
                   "] (one value per channel of x ", x.to_string(), "), got ", in[i].shape().to_string());
  }
  return l;
}

// Mean and biased variance of channel c, in one pass: sums of the elements'
// differences from the channel's first element, in double, so that a large
// mean does not cancel the variance away.
struct Stats {
  double mean, var;
};

constexpr int kLanes = 8;  // partial sums per channel

template <typename T>
Stats channel_stats(const T* x, const Layout& l, int64_t c) {
  if (l.count() == 0) return {0.0, 0.0};
  const double shift = static_cast<double>(x[c * l.inner]);
  double s[kLanes] = {}, q[kLanes] = {};
  for (int64_t i = 0; i < l.n; ++i) {
    const T* row = x + (i * l.c + c) * l.inner;
    int64_t j = 0;
    for (; j + kLanes <= l.inner; j += kLanes) {
      for (int k = 0; k < kLanes; ++k) {
        const double d = static_cast<double>(row[j + k]) - shift;
        s[k] += d;
        q[k] += d * d;
      }
    }
    for (int k = 0; j < l.inner; ++j, ++k) {
      const double d = static_cast<double>(row[j]) - shift;
      s[k] += d;
      q[k] += d * d;
    }
  }
  double sum = 0, squares = 0;
  for (int k = 0; k < kLanes; ++k) sum += s[k], squares += q[k];
  const double m = static_cast<double>(l.count());
  const double d = sum / m;
  return {shift + d, std::max(squares / m - d * d, 0.0)};
}

// Runs body(c) for every channel, channels split across the pool.
template <typename Body>
void for_each_channel(const Layout& l, Body&& body) {
  parallel_for(0, l.c, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, l.count())),
               [&](int64_t first, int64_t last) {
                 for (int64_t c = first; c < last; ++c) body(c);
               });
}

// Calls f(offset, length) for each of channel c's N runs of `inner`
// elements (the same offsets in x, grad_y, y and grad_x).
template <typename F>
void for_each_run(const Layout& l, int64_t c, F&& f) {
  for (int64_t i = 0; i < l.n; ++i) f((i * l.c + c) * l.inner, l.inner);
}

double rstd(const Stats& s, double eps) { return 1.0 / std::sqrt(s.var + eps); }

// One channel of each op. float32 runs them through the *_avx512 copies
// below where the CPU has AVX-512 (graft/tensor/simd.h; flatten inlines the
// templates into each copy): the baseline x86-64 build vectorises these
// double-accumulating loops only with SSE2.

// out[c] = mean, out[C + c] = biased variance.
template <typename T>
void stats_channel(const T* x, const Layout& l, int64_t c, T* out) {
  const Stats s = channel_stats(x, l, c);
  out[c] = static_cast<T>(s.mean);
  out[l.c + c] = static_cast<T>(s.var);
}

// y = (x - mean) * (gamma * rstd) + beta.
template <typename T>
void normalize_channel(const T* x, const T* gamma, const T* beta, double eps, const Layout& l, int64_t c, T* y) {
  const Stats s = channel_stats(x, l, c);
  const T mean = static_cast<T>(s.mean), scale = static_cast<T>(gamma[c] * rstd(s, eps)), b = beta[c];
  for_each_run(l, c, [&](int64_t at, int64_t len) {
    for (int64_t j = 0; j < len; ++j) y[at + j] = (x[at + j] - mean) * scale + b;
  });
}

// The four rows of batch_norm_sums for channel c: sum(dy), sum(dy * x_hat),
// mean, variance. One pass over x and dy: with d = x - x_first (as
// channel_stats), sum(dy * (x - mean)) = sum(dy * d) - sum(dy) * mean(d).
template <typename T>
void sums_channel(const T* x, const T* dy, double eps, const Layout& l, int64_t c, T* out) {
  const double shift = l.count() > 0 ? static_cast<double>(x[c * l.inner]) : 0.0;
  // Eight partial sums each, as channel_stats.
  double s[kLanes] = {}, q[kLanes] = {}, t[kLanes] = {}, w[kLanes] = {};
  auto add = [&](int k, T xv, T gv) {
    const double d = static_cast<double>(xv) - shift, g = static_cast<double>(gv);
    s[k] += d, q[k] += d * d, t[k] += g, w[k] += g * d;
  };
  for_each_run(l, c, [&](int64_t at, int64_t len) {
    const T *v = x + at, *g = dy + at;
    int64_t j = 0;
    for (; j + kLanes <= len; j += kLanes) {
      for (int k = 0; k < kLanes; ++k) add(k, v[j + k], g[j + k]);
    }
    for (int k = 0; j < len; ++j, ++k) add(k, v[j], g[j]);
  });
  double sum = 0, squares = 0, total = 0, weighted = 0;
  for (int k = 0; k < kLanes; ++k) sum += s[k], squares += q[k], total += t[k], weighted += w[k];
  const double m = static_cast<double>(std::max<int64_t>(l.count(), 1));
  const Stats st{shift + sum / m, std::max(squares / m - (sum / m) * (sum / m), 0.0)};
  out[c] = static_cast<T>(total);
  out[l.c + c] = static_cast<T>((weighted - total * (sum / m)) * rstd(st, eps));
  out[2 * l.c + c] = static_cast<T>(st.mean);
  out[3 * l.c + c] = static_cast<T>(st.var);
}

// dx = gamma * rstd * (dy - sum(dy) / m - x_hat * sum(dy * x_hat) / m), the
// sums and statistics read from batch_norm_sums' rows.
template <typename T>
void grad_input_channel(const T* x, const T* gamma, const T* dy, const T* sums, double eps, const Layout& l,
                        int64_t c, T* dx) {
  const double m = static_cast<double>(std::max<int64_t>(l.count(), 1));
  const Stats s{static_cast<double>(sums[2 * l.c + c]), static_cast<double>(sums[3 * l.c + c])};
  const double r = rstd(s, eps);
  const T mean = static_cast<T>(s.mean), scale = static_cast<T>(gamma[c] * r);
  const T offset = static_cast<T>(sums[c] / m), slope = static_cast<T>(sums[l.c + c] / m * r);
  for_each_run(l, c, [&](int64_t at, int64_t len) {
    for (int64_t j = 0; j < len; ++j) dx[at + j] = scale * (dy[at + j] - offset - (x[at + j] - mean) * slope);
  });
}

GRAFT_TARGET_AVX512 [[gnu::flatten]] void stats_channel_avx512(const float* x, const Layout& l, int64_t c,
                                                               float* out) {
  stats_channel(x, l, c, out);
}
GRAFT_TARGET_AVX512 [[gnu::flatten]] void normalize_channel_avx512(const float* x, const float* gamma,
                                                                   const float* beta, double eps, const Layout& l,
                                                                   int64_t c, float* y) {
  normalize_channel(x, gamma, beta, eps, l, c, y);
}
GRAFT_TARGET_AVX512 [[gnu::flatten]] void sums_channel_avx512(const float* x, const float* dy, double eps,
                                                              const Layout& l, int64_t c, float* out) {
  sums_channel(x, dy, eps, l, c, out);
}
GRAFT_TARGET_AVX512 [[gnu::flatten]] void grad_input_channel_avx512(const float* x, const float* gamma,
                                                                    const float* dy, const float* sums, double eps,
                                                                    const Layout& l, int64_t c, float* dx) {
  grad_input_channel(x, gamma, dy, sums, eps, l, c, dx);
}

// The channel bodies by dtype: the float32 copies where the CPU runs them,
// else (and for float64) the templates.
void stats_of(const float* x, const Layout& l, int64_t c, float* out) {
  cpu_has_avx512() ? stats_channel_avx512(x, l, c, out) : stats_channel(x, l, c, out);
}
void stats_of(const double* x, const Layout& l, int64_t c, double* out) { stats_channel(x, l, c, out); }
void normalize(const float* x, const float* g, const float* b, double eps, const Layout& l, int64_t c, float* y) {
  cpu_has_avx512() ? normalize_channel_avx512(x, g, b, eps, l, c, y) : normalize_channel(x, g, b, eps, l, c, y);
}
void normalize(const double* x, const double* g, const double* b, double eps, const Layout& l, int64_t c,
               double* y) {
  normalize_channel(x, g, b, eps, l, c, y);
}
void sums_of(const float* x, const float* dy, double eps, const Layout& l, int64_t c, float* out) {
  cpu_has_avx512() ? sums_channel_avx512(x, dy, eps, l, c, out) : sums_channel(x, dy, eps, l, c, out);
}
void sums_of(const double* x, const double* dy, double eps, const Layout& l, int64_t c, double* out) {
  sums_channel(x, dy, eps, l, c, out);
}
void grad_input(const float* x, const float* g, const float* dy, const float* sums, double eps, const Layout& l,
                int64_t c, float* dx) {
  cpu_has_avx512() ? grad_input_channel_avx512(x, g, dy, sums, eps, l, c, dx)
                 : grad_input_channel(x, g, dy, sums, eps, l, c, dx);
}
void grad_input(const double* x, const double* g, const double* dy, const double* sums, double eps, const Layout& l,
                int64_t c, double* dx) {
  grad_input_channel(x, g, dy, sums, eps, l, c, dx);
}

}  // namespace

// in: x. Out: [2, C], the means, then the biased variances.
TensorMeta infer_batch_norm_stats(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  const Layout l = layout(def, in, {});
  return {Shape{2, l.c}, in[0].dtype()};
}

// in: x, gamma, beta; attrs.scalar: eps.
TensorMeta infer_batch_norm(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  layout(def, in, {1, 2});
  GRAFT_CHECK_AS(ValueError, attrs.scalar > 0.0, def.name, ": eps must be positive, got ", attrs.scalar,
                 "\n  help: eps keeps the division finite on a channel of equal values (1e-5 is usual)");
  return {in[0].shape(), in[0].dtype()};
}

// in: x, grad_y; attrs.scalar: eps. Out: [4, C]: sum(grad_y), sum(grad_y *
// x_hat), then x's means and biased variances (for batch_norm_grad_input).
TensorMeta infer_batch_norm_sums(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  const Layout l = layout(def, in, {});
  GRAFT_CHECK_AS(ShapeError, in[1].shape() == in[0].shape(), def.name, ": grad_y ", in[1].shape().to_string(),
                 " must have the shape of x ", in[0].shape().to_string());
  return {Shape{4, l.c}, in[0].dtype()};
}

// in: x, gamma, grad_y, sums (batch_norm_sums); attrs.scalar: eps.
TensorMeta infer_batch_norm_grad_input(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  const Layout l = layout(def, in, {1});
  GRAFT_CHECK_AS(ShapeError, in[2].shape() == in[0].shape() && in[3].shape() == Shape({4, l.c}), def.name,
                 ": expected grad_y of x's shape ", in[0].shape().to_string(), " and sums [4, ", l.c, "], got ",
                 in[2].shape().to_string(), " and ", in[3].shape().to_string(),
                 "\n  help: sums is batch_norm_sums(x, grad_y, eps)");
  return {in[0].shape(), in[0].dtype()};
}

void batch_norm_stats_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  const Layout l = layout(op_def(OpKind::kBatchNormStats), in, {});
  visit_float(out.dtype(), [&]<typename T>(T) {
    for_each_channel(l, [&](int64_t c) { stats_of(in[0].data<T>(), l, c, out.data<T>()); });
  });
}

void batch_norm_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const Layout l = layout(op_def(OpKind::kBatchNorm), in, {1, 2});
  visit_float(out.dtype(), [&]<typename T>(T) {
    for_each_channel(l, [&](int64_t c) {
      normalize(in[0].data<T>(), in[1].data<T>(), in[2].data<T>(), attrs.scalar, l, c, out.data<T>());
    });
  });
}

void batch_norm_sums_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const Layout l = layout(op_def(OpKind::kBatchNormSums), in, {});
  visit_float(out.dtype(), [&]<typename T>(T) {
    for_each_channel(l, [&](int64_t c) {
      sums_of(in[0].data<T>(), in[1].data<T>(), attrs.scalar, l, c, out.data<T>());
    });
  });
}

void batch_norm_grad_input_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const Layout l = layout(op_def(OpKind::kBatchNormGradInput), in, {1});
  visit_float(out.dtype(), [&]<typename T>(T) {
    for_each_channel(l, [&](int64_t c) {
      grad_input(in[0].data<T>(), in[1].data<T>(), in[2].data<T>(), in[3].data<T>(), attrs.scalar, l, c,
                 out.data<T>());
    });
  });
}

// d stats / dx: mean_c = sum(x_c) / m, var_c = sum((x_c - mean_c)^2) / m, so
// dx = g_mean / m + g_var * 2 (x - mean) / m (the mean's own variation
// cancels in var's gradient, whose deviations sum to zero).
void batch_norm_stats_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& x = c.inputs[0];
  const int64_t channels = x.dim(1);
  const Shape per_channel = x.rank() == 2 ? Shape{1, channels} : Shape{1, channels, 1, 1};
  const double m = static_cast<double>(std::max<int64_t>(x.numel() / std::max<int64_t>(channels, 1), 1));
  auto row = [&](const Tensor& t, int64_t r) { return reshape(slice(t, {r, 0}, {r + 1, channels}), per_channel); };
  grad[0] = (row(c.grad_output, 0) + row(c.grad_output, 1) * (2.0 * (x - row(c.output, 0)))) / m;
}

// grad_y's gradient with respect to x (through the batch's statistics),
// gamma and beta: batch_norm_sums once, then the input gradient in one pass.
void batch_norm_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& x = c.inputs[0];
  const int64_t channels = x.dim(1);
  const Tensor sums = apply(OpKind::kBatchNormSums, {x, c.grad_output}, c.attrs);
  if (c.needs(0)) grad[0] = apply(OpKind::kBatchNormGradInput, {x, c.inputs[1], c.grad_output, sums}, c.attrs);
  if (c.needs(1)) grad[1] = reshape(slice(sums, {1, 0}, {2, channels}), {channels});
  if (c.needs(2)) grad[2] = reshape(slice(sums, {0, 0}, {1, channels}), {channels});
}

// The backward ops are not differentiated again (as lstm_sequence_grad);
// the composite form is.
void refuse_second_derivative(OpKind kind) {
  GRAFT_CHECK_AS(ValueError, false, op_name(kind),
                 ": second derivatives through batch norm's fused backward are not supported\n"
                 "  help: write batch norm from mean, square and sqrt (as BatchNorm's evaluation mode does) to "
                 "differentiate it twice");
}
void batch_norm_sums_vjp(const VjpContext&, std::span<Tensor>) { refuse_second_derivative(OpKind::kBatchNormSums); }
void batch_norm_grad_input_vjp(const VjpContext&, std::span<Tensor>) {
  refuse_second_derivative(OpKind::kBatchNormGradInput);
}

}  // namespace graft::ops::internal

namespace graft {
namespace {

OpAttrs eps_attrs(double eps) {
  OpAttrs attrs;
  attrs.scalar = eps;
  return attrs;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  return apply(OpKind::kBatchNorm, {x, gamma, beta}, eps_attrs(eps));
}

Tensor batch_norm_stats(const Tensor& x) { return apply(OpKind::kBatchNormStats, {x}, OpAttrs()); }

Tensor batch_norm_sums(const Tensor& x, const Tensor& grad_y, double eps) {
  return apply(OpKind::kBatchNormSums, {x, grad_y}, eps_attrs(eps));
}

Tensor batch_norm_grad_input(const Tensor& x, const Tensor& gamma, const Tensor& grad_y, const Tensor& sums,
                             double eps) {
  return apply(OpKind::kBatchNormGradInput, {x, gamma, grad_y, sums}, eps_attrs(eps));
}

}  // namespace graft
