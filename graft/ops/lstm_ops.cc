// lstm_sequence and lstm_sequence_grad: an LSTM's whole recurrence as one op
// and its backward sweep as another, the way cuDNN and LibTorch run it.
//
// Per step the forward does one product (h_{t-1} u, added onto the step's
// precomputed input projection in place, beta = 1) and one pass over the
// gates; the backward does one pass and one product (dz_t u^T) per step. The
// products that do not depend on the recurrence (x kernel, and the gradients
// of kernel, recurrent_kernel and bias) are left to the caller, one each over
// all steps (nn::LSTM, and lstm_sequence_vjp below). Slicing one big
// projection per step with the generic slice op would instead give a
// backward of O(T^2): every slice's VJP pads to the full tensor.
//
// Layout: time-major, so a step's rows are contiguous. y's row of one step
// and example is [i | f | g | o | c | tanh(c) | h], each h wide (the
// activations, not the pre-activations): everything the backward reads, so
// it evaluates no exp or tanh.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "graft/ops/internal/elementwise_math.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/simd.h"

namespace graft::ops::internal {
namespace {

constexpr int64_t kGates = 4;    // i, f, g, o
constexpr int64_t kColumns = 7;  // the gates, c, tanh(c), h

struct LstmDims {
  int64_t steps, batch, hidden;
};

LstmDims lstm_dims(const Shape& seq, const Shape& u) { return {seq[0], seq[1], u[0]}; }

// Rows of one step are split across the pool above the usual grain; a row
// is about 7h values.
int64_t row_grain(int64_t hidden) { return std::max<int64_t>(1, kParallelGrain / (kColumns * hidden)); }

// float32 sigmoid and tanh for the gate pass, branch-free and call-free so
// the loop vectorises (8 lanes under AVX2): the gates evaluate 5h of them per
// example and step, which with libm's scalar expf / tanhf cost as much as
// the recurrent product. Within a few ulp of std::exp / std::tanh.
//
// exp(x) = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2, e^r by
// Cephes' expf polynomial; x is clamped so 2^n stays a normal float.
inline float exp_f32(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const auto bits = static_cast<int32_t>(n) + 127;
  return er * std::bit_cast<float>(static_cast<uint32_t>(bits) << 23);
}
inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }
// Near 0, 1 - 2 / (e^2x + 1) would cancel: Cephes' odd polynomial there.
inline float tanh_f32(float x) {
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float large = 1.0f - 2.0f / (exp_f32(2.0f * x) + 1.0f);
  return std::abs(x) < 0.625f ? small : large;
}

struct GateMathF32 {
  static float sigmoid(float x) { return sigmoid_f32(x); }
  static float tanh(float x) { return tanh_f32(x); }
};
// float64 keeps the elementwise ops' own scalar math (the reference's).
struct GateMathF64 {
  static double sigmoid(double x) { return SigmoidMath{}(x); }
  static double tanh(double x) { return TanhMath{}(x); }
};

// One example's gates at one step, in place: zi..zo hold z_t's four gates
// on entry and their activations on exit; c, tanh(c) and h are written to
// their columns; cp is c_{t-1} (kFirst: step 0, c_{-1} = 0, cp unused). The
// columns of one row never overlap, so the pointers are restrict-qualified
// and the loop vectorises.
template <typename T, typename Math, bool kFirst>
inline void gates_forward_row(T* __restrict zi, T* __restrict zf, T* __restrict zg, T* __restrict zo,
                              T* __restrict c_out, T* __restrict tc_out, T* __restrict h_out,
                              const T* __restrict cp, int64_t h) {
  for (int64_t j = 0; j < h; ++j) {
    const T i = Math::sigmoid(zi[j]);
    const T f = Math::sigmoid(zf[j]);
    const T g = Math::tanh(zg[j]);
    const T o = Math::sigmoid(zo[j]);
    T c = i * g;
    if constexpr (!kFirst) c += f * cp[j];
    const T tc = Math::tanh(c);
    zi[j] = i;
    zf[j] = f;
    zg[j] = g;
    zo[j] = o;
    c_out[j] = c;
    tc_out[j] = tc;
    h_out[j] = o * tc;
  }
}

// r: one row [z_i z_f z_g z_o . . .] of y; c_prev null at step 0.
template <typename T, typename Math>
inline void gates_forward_columns(T* r, const T* c_prev, int64_t h) {
  if (c_prev == nullptr) {
    gates_forward_row<T, Math, true>(r, r + h, r + 2 * h, r + 3 * h, r + 4 * h, r + 5 * h, r + 6 * h, c_prev, h);
  } else {
    gates_forward_row<T, Math, false>(r, r + h, r + 2 * h, r + 3 * h, r + 4 * h, r + 5 * h, r + 6 * h, c_prev, h);
  }
}

// The float32 row is compiled for AVX2+FMA and for baseline x86-64; flatten
// inlines the math into each clone (a default-target helper would otherwise
// stay a call and block vectorisation).
[[gnu::flatten]] GRAFT_TARGET_CLONES void gates_forward_f32(float* r, const float* c_prev, int64_t h) {
  gates_forward_columns<float, GateMathF32>(r, c_prev, h);
}

// c_{t-1} of every example of a step: example b's h values at
// rows + b * stride, or none (the zero state before step 0).
template <typename T>
struct PrevCells {
  const T* rows = nullptr;
  int64_t stride = 0;

  // The c columns of y's previous step (`prev`, step t-1's rows), or at
  // t = 0 the initial state c0 [B, h] (null: zeros).
  static PrevCells before(int64_t t, const T* prev, const T* c0, int64_t h) {
    if (t > 0) return {prev + 4 * h, kColumns * h};
    return {c0, h};
  }
  const T* of(int64_t b) const { return rows != nullptr ? rows + b * stride : nullptr; }
};

// Rows [first, last) of one step.
template <typename T>
void gates_forward(T* y, PrevCells<T> prev, int64_t first, int64_t last, int64_t h) {
  const int64_t w = kColumns * h;
  for (int64_t b = first; b < last; ++b) {
    const T* c_prev = prev.of(b);
    if constexpr (std::is_same_v<T, float>) {
      gates_forward_f32(y + b * w, c_prev, h);
    } else {
      gates_forward_columns<T, GateMathF64>(y + b * w, c_prev, h);
    }
  }
}

// h0 and c0 [B, h] are the initial state, or both null (zeros).
template <typename T>
void lstm_forward_kernel(const T* xp, const T* u, const T* h0, const T* c0, T* y, const LstmDims& d) {
  const int64_t h = d.hidden, g4 = kGates * h, w = kColumns * h;
  const int64_t step_rows = d.batch;
  for (int64_t t = 0; t < d.steps; ++t) {
    T* yt = y + t * step_rows * w;
    const T* xt = xp + t * step_rows * g4;
    const T* prev = t > 0 ? yt - step_rows * w : nullptr;
    for (int64_t b = 0; b < step_rows; ++b) std::memcpy(yt + b * w, xt + b * g4, sizeof(T) * g4);
    // z_t = xp_t + h_{t-1} u, accumulated onto the copy (a zero h_{-1} adds nothing).
    if (prev != nullptr) {
      blas::gemm(false, false, step_rows, g4, h, T(1), prev + 6 * h, w, u, g4, T(1), yt, w);
    } else if (h0 != nullptr) {
      blas::gemm(false, false, step_rows, g4, h, T(1), h0, h, u, g4, T(1), yt, w);
    }
    const PrevCells<T> cells = PrevCells<T>::before(t, prev, c0, h);
    parallel_for(0, step_rows, row_grain(h),
                 [=](int64_t first, int64_t last) { gates_forward(yt, cells, first, last, h); });
  }
}

// One step of the backward sweep for one example. r is its row of y, gy
// its row of grad_y, cp c_{t-1} (kFirst: step 0, c_{-1} = 0). dh holds the
// gradient reaching h_t through step t+1's product (dz_{t+1} u^T), dc the
// gradient reaching c_t through c_{t+1} = f c_t + ...; dc is replaced by what
// reaches c_{t-1}. With dh' = gy_h + dh (h's total gradient):
//   d tanh(c) = gy_tanh(c) + dh' o;   dc' = gy_c + dc + d tanh(c) (1 - tanh(c)^2)
//   di = gy_i + dc' g,  df = gy_f + dc' c_{t-1},  dg = gy_g + dc' i,  do = gy_o + dh' tanh(c)
//   dz = [di i(1-i) | df f(1-f) | dg (1-g^2) | do o(1-o)],  dc_{t-1} = dc' f.
template <typename T, bool kFirst>
inline void gates_backward_row(const T* __restrict r, const T* __restrict cp, const T* __restrict gy,
                               const T* __restrict dh, T* __restrict dzi, T* __restrict dzf, T* __restrict dzg,
                               T* __restrict dzo, T* __restrict dc, int64_t h) {
  for (int64_t j = 0; j < h; ++j) {
    const T i = r[j], f = r[h + j], g = r[2 * h + j], o = r[3 * h + j], tc = r[5 * h + j];
    const T dh_total = gy[6 * h + j] + dh[j];
    const T dtc = gy[5 * h + j] + dh_total * o;
    const T dc_total = gy[4 * h + j] + dc[j] + dtc * (T(1) - tc * tc);
    const T di = gy[j] + dc_total * g;
    T df = gy[h + j];
    if constexpr (!kFirst) df += dc_total * cp[j];
    const T dg = gy[2 * h + j] + dc_total * i;
    const T d_o = gy[3 * h + j] + dh_total * tc;
    dzi[j] = di * i * (T(1) - i);
    dzf[j] = df * f * (T(1) - f);
    dzg[j] = dg * (T(1) - g * g);
    dzo[j] = d_o * o * (T(1) - o);
    dc[j] = dc_total * f;
  }
}

template <typename T>
inline void gates_backward_columns(const T* r, const T* c_prev, const T* gy, const T* dh, T* dz, T* dc, int64_t h) {
  if (c_prev == nullptr) {
    gates_backward_row<T, true>(r, c_prev, gy, dh, dz, dz + h, dz + 2 * h, dz + 3 * h, dc, h);
  } else {
    gates_backward_row<T, false>(r, c_prev, gy, dh, dz, dz + h, dz + 2 * h, dz + 3 * h, dc, h);
  }
}

[[gnu::flatten]] GRAFT_TARGET_CLONES void gates_backward_f32(const float* r, const float* c_prev, const float* gy,
                                                             const float* dh, float* dz, float* dc, int64_t h) {
  gates_backward_columns(r, c_prev, gy, dh, dz, dc, h);
}

// Rows [first, last) of step t.
template <typename T>
void gates_backward(const T* y, PrevCells<T> prev, const T* gy, T* dz, const T* dh, T* dc, int64_t first,
                    int64_t last, int64_t h) {
  const int64_t w = kColumns * h, g4 = kGates * h;
  for (int64_t b = first; b < last; ++b) {
    const T* c_prev = prev.of(b);
    if constexpr (std::is_same_v<T, float>) {
      gates_backward_f32(y + b * w, c_prev, gy + b * w, dh + b * h, dz + b * g4, dc + b * h, h);
    } else {
      gates_backward_columns(y + b * w, c_prev, gy + b * w, dh + b * h, dz + b * g4, dc + b * h, h);
    }
  }
}

// c0 [B, h] is the initial state's c, or null (zeros). With an initial
// state, dz holds one more step after the T steps: its rows are
// [dh_{-1} | dc_{-1} | 0 | 0], the gradients reaching h0 and c0.
template <typename T>
void lstm_backward_kernel(const T* y, const T* u, const T* gy, const T* c0, bool initial_state, T* dz,
                          const LstmDims& d) {
  const int64_t h = d.hidden, g4 = kGates * h, w = kColumns * h;
  const int64_t rows = d.batch;
  std::vector<T> dh(static_cast<size_t>(rows * h), T(0));
  std::vector<T> dc(static_cast<size_t>(rows * h), T(0));
  for (int64_t t = d.steps; t-- > 0;) {
    const T* yt = y + t * rows * w;
    const T* prev = t > 0 ? yt - rows * w : nullptr;
    const T* gyt = gy + t * rows * w;
    T* dzt = dz + t * rows * g4;
    T* dh_data = dh.data();
    T* dc_data = dc.data();
    const PrevCells<T> cells = PrevCells<T>::before(t, prev, c0, h);
    parallel_for(0, rows, row_grain(h), [=](int64_t first, int64_t last) {
      gates_backward(yt, cells, gyt, dzt, dh_data, dc_data, first, last, h);
    });
    // What reaches h_{t-1} through z_t = xp_t + h_{t-1} u: dz_t u^T.
    if (t > 0 || initial_state) blas::gemm(false, true, rows, h, g4, T(1), dzt, g4, u, g4, T(0), dh_data, h);
  }
  if (!initial_state) return;
  T* extra = dz + d.steps * rows * g4;
  for (int64_t b = 0; b < rows; ++b) {
    T* row = extra + b * g4;
    std::memcpy(row, dh.data() + b * h, sizeof(T) * h);
    std::memcpy(row + h, dc.data() + b * h, sizeof(T) * h);
    std::fill(row + 2 * h, row + g4, T(0));
  }
}

void check_recurrent_kernel(const OpDef& def, const Shape& seq, const Shape& u, int64_t columns,
                            const char* seq_name) {
  GRAFT_CHECK_AS(ShapeError, u.rank() == 2 && u[0] > 0 && u[1] == kGates * u[0], def.name,
                 ": expected a recurrent kernel u of shape [h, 4h] (h >= 1), got ", u.to_string());
  GRAFT_CHECK_AS(ShapeError, seq.rank() == 3 && seq[0] >= 1 && seq[2] == columns * u[0], def.name, ": expected ",
                 seq_name, " of shape [time, batch, ", columns * u[0], "] (time >= 1; ", columns, " x h for u ",
                 u.to_string(), "), got ", seq.to_string(),
                 "\n  help: the sequence is time-major; permute a [batch, time, ...] tensor with {1, 0, 2}");
}

// An initial state's h0 or c0 (input `index`): [B, h] for a sequence of
// batch B and a recurrent kernel of h rows.
void check_initial_state(const OpDef& def, std::span<const Tensor> in, size_t index, int64_t batch, int64_t h) {
  const Shape expected{batch, h};
  GRAFT_CHECK_AS(ShapeError, in[index].shape() == expected, def.name, ": expected the initial ",
                 index == in.size() - 1 ? "c0" : "h0", " of shape ", expected.to_string(), " (batch, h), got ",
                 in[index].shape().to_string());
}

// The inputs' data, or null for an absent initial state.
template <typename T>
const T* data_or_null(std::span<const Tensor> in, size_t index) {
  return index < in.size() ? in[index].data<T>() : nullptr;
}

}  // namespace

TensorMeta infer_lstm_sequence(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  GRAFT_CHECK(in.size() == 2 || in.size() == 4, def.name, ": expected 2 inputs (xp, u) or 4 (xp, u, h0, c0), got ",
              in.size());
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  const Shape& xp = in[0].shape();
  check_recurrent_kernel(def, xp, in[1].shape(), kGates, "projections xp");
  for (size_t i = 2; i < in.size(); ++i) check_initial_state(def, in, i, xp[1], in[1].dim(0));
  return {Shape{xp[0], xp[1], kColumns * in[1].dim(0)}, in[0].dtype()};
}

void lstm_sequence_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  const LstmDims d = lstm_dims(in[0].shape(), in[1].shape());
  visit_floating(out.dtype(), op_name(OpKind::kLstmSequence), [&]<typename T>(T) {
    lstm_forward_kernel(in[0].data<T>(), in[1].data<T>(), data_or_null<T>(in, 2), data_or_null<T>(in, 3),
                        out.data<T>(), d);
  });
}

// xp's gradient is dz; u's sums h_{t-1}^T dz_t over the steps, one product
// over all of them: the h columns of steps 0..T-2 after h_{-1} (h0, or a
// step of zeros), [T B, h]^T [T B, 4h]. With an initial state the sweep
// also returns what reaches h0 and c0, in one step after the T steps.
void lstm_sequence_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& y = c.output;
  const Tensor& u = c.inputs[1];
  const bool initial_state = c.inputs.size() == 4;
  const int64_t steps = y.dim(0), batch = y.dim(1), h = u.dim(0), g4 = kGates * h;
  Tensor dz = initial_state ? lstm_sequence_grad(y, u, c.grad_output, c.inputs[3])
                            : lstm_sequence_grad(y, u, c.grad_output);
  if (initial_state) {
    Tensor into_state = reshape(slice(dz, {steps, 0, 0}, {steps + 1, batch, g4}), {batch, g4});
    if (c.needs(2)) grad[2] = slice(into_state, {0, 0}, {batch, h});
    if (c.needs(3)) grad[3] = slice(into_state, {0, h}, {batch, 2 * h});
    dz = slice(dz, {0, 0, 0}, {steps, batch, g4});
  }
  if (c.needs(1)) {
    Tensor h_prev;  // [T, B, h]
    if (steps > 1) h_prev = slice(y, {0, 0, 6 * h}, {steps - 1, batch, kColumns * h});
    if (initial_state) {
      Tensor h0 = reshape(c.inputs[2], {1, batch, h});
      h_prev = h_prev.defined() ? concat({h0, h_prev}, 0) : h0;
    } else if (h_prev.defined()) {
      h_prev = pad(h_prev, {1, 0, 0}, {0, 0, 0});
    }
    grad[1] = h_prev.defined() ? matmul(reshape(h_prev, {steps * batch, h}), reshape(dz, {steps * batch, g4}),
                                        MatmulOptions().transpose_a(true))
                               : zeros_like(u);
  }
  if (c.needs(0)) grad[0] = std::move(dz);
}

TensorMeta infer_lstm_sequence_grad(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  GRAFT_CHECK(in.size() == 3 || in.size() == 4, def.name,
              ": expected 3 inputs (y, u, grad_y) or 4 (y, u, grad_y, c0), got ", in.size());
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  const Shape& y = in[0].shape();
  check_recurrent_kernel(def, y, in[1].shape(), kColumns, "lstm_sequence's output y");
  GRAFT_CHECK_AS(ShapeError, in[2].shape() == y, def.name, ": expected grad_y of y's shape ", y.to_string(),
                 ", got ", in[2].shape().to_string());
  if (in.size() == 4) check_initial_state(def, in, 3, y[1], in[1].dim(0));
  // With an initial state, one more step: the gradients reaching h0 and c0.
  return {Shape{y[0] + (in.size() == 4 ? 1 : 0), y[1], kGates * in[1].dim(0)}, in[0].dtype()};
}

void lstm_sequence_grad_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  const LstmDims d = lstm_dims(in[0].shape(), in[1].shape());
  visit_floating(out.dtype(), op_name(OpKind::kLstmSequenceGrad), [&]<typename T>(T) {
    lstm_backward_kernel(in[0].data<T>(), in[1].data<T>(), in[2].data<T>(), data_or_null<T>(in, 3), in.size() == 4,
                         out.data<T>(), d);
  });
}

// A second derivative through the sweep would need its own backward
// recurrence; refusing is better than the silent zero of a missing VJP.
void lstm_sequence_grad_vjp(const VjpContext&, std::span<Tensor>) {
  GRAFT_CHECK_AS(ValueError, false, op_name(OpKind::kLstmSequenceGrad),
                 ": second derivatives through an LSTM sequence are not supported\n"
                 "  help: differentiate the per-step nn::LSTM::unroll() (built from basic ops) instead");
}

}  // namespace graft::ops::internal
