// graft/ops/ops.h: the operations users call on tensors.
//
//   Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
//   Tensor w = ones({3, 4});
//   Tensor y = relu(matmul(x, w) + 1.0);
//   Tensor loss = mean(square(y));
//
// Every function goes through apply() (dispatch.h), so it is checked against
// the op table, recorded by active GradientTapes and captured by
// graft::function. Shapes broadcast as in NumPy; dtypes never mix silently:
// mixing float32 and float64 throws DTypeError (use cast()). Scalars given as
// double take the tensor's dtype. Wrong shapes throw ShapeError naming the op
// and both shapes. No function writes into its inputs.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "graft/ops/dispatch.h"

namespace graft {

// Creation: a new tensor of `shape` and `dtype` holding `value`, zeros or
// ones; the _like forms take the shape and dtype of `like`.
Tensor full(const Shape& shape, double value, DType dtype = DType::kFloat32);
Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32);
Tensor ones(const Shape& shape, DType dtype = DType::kFloat32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
// A 0-d tensor holding `value` in `like`'s dtype.
Tensor scalar_like(double value, const Tensor& like);
// start, start + step, ... up to but excluding stop (NumPy's arange): a 1-D
// tensor of max(0, ceil((stop - start) / step)) values, computed in double as
// start + i * step and then converted. Throws ValueError when step is 0.
Tensor arange(double start, double stop, double step = 1.0, DType dtype = DType::kFloat32);

// Seeded random tensors (float32 or float64; DTypeError otherwise). Value i
// depends only on (seed, i) (graft/tensor/random.h), so the same seed gives
// the same values on every machine and inside a captured graft::function,
// where the op is a constant of its seed: pass a new seed for new values.
// Uniform in [low, high); ValueError unless low <= high.
Tensor random_uniform(const Shape& shape, uint64_t seed, double low = 0.0, double high = 1.0,
                      DType dtype = DType::kFloat32);
// Normal with the given mean and stddev; ValueError when stddev < 0.
Tensor random_normal(const Shape& shape, uint64_t seed, double mean = 0.0, double stddev = 1.0,
                     DType dtype = DType::kFloat32);
// Normal, redrawn until within two stddev of the mean (TensorFlow's
// truncated_normal; its stddev is therefore about 0.88 * stddev).
Tensor truncated_normal(const Shape& shape, uint64_t seed, double mean = 0.0, double stddev = 1.0,
                        DType dtype = DType::kFloat32);

// Elementwise binary: a op b per element, the shapes broadcast as in NumPy;
// a and b share a dtype (DTypeError otherwise).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons return 1 or 0 in the inputs' dtype.
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
// a where cond is non-zero, else b (all three broadcast; a and b share a dtype).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Elementwise unary: f(x) per element, in x's shape and dtype.
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sign(const Tensor& x);
// The same values, through which no gradient flows.
Tensor stop_gradient(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);

// How sum, mean and max reduce: sum(x, {1}, ReduceOptions().keepdims(true)).
class ReduceOptions {
 public:
  // Keep each reduced axis as a dimension of size 1 (NumPy's keepdims), so
  // the result broadcasts against the input.
  ReduceOptions& keepdims(bool on) { keepdims_ = on; return *this; }
  bool keepdims() const { return keepdims_; }

 private:
  bool keepdims_ = false;
};

// Reductions. Empty `axes` reduces over every axis; negative axes count from
// the end.
Tensor sum(const Tensor& x, const Dims& axes = {}, const ReduceOptions& options = {});
Tensor mean(const Tensor& x, const Dims& axes = {}, const ReduceOptions& options = {});
Tensor max(const Tensor& x, const Dims& axes = {}, const ReduceOptions& options = {});

// Which operands matmul transposes (its last two axes) before the product:
// matmul(a, b, MatmulOptions().transpose_b(true)) is a b^T. The transpose is
// folded into the BLAS call; no copy is made.
class MatmulOptions {
 public:
  // Use a's (b's) transpose over its last two axes; both off by default.
  MatmulOptions& transpose_a(bool on) { transpose_a_ = on; return *this; }
  MatmulOptions& transpose_b(bool on) { transpose_b_ = on; return *this; }
  // The values set above.
  bool transpose_a() const { return transpose_a_; }
  bool transpose_b() const { return transpose_b_; }

 private:
  bool transpose_a_ = false;
  bool transpose_b_ = false;
};

// Matrix product through BLAS. Rank 2 x rank 2; batched rank >= 3 with equal
// batch dimensions; or rank >= 3 x rank 2 (the batch folds into rows).
Tensor matmul(const Tensor& a, const Tensor& b, const MatmulOptions& options = {});
// activation(x w + b) as one op: the bias is copied into the output and the
// product added onto it (beta = 1), then the activation runs in place over
// the output; its gradient is one pass over the output too. x [..., k]
// (rank >= 2, leading axes fold into rows), w [k, n], b [n] or undefined (no
// bias); float32 or float64, one dtype. `activation` is OpKind::kRelu, kTanh,
// kSigmoid or kCount (none); values and gradients equal those of
// activation(matmul(x, w) + b). Throws ShapeError / DTypeError / ValueError
// naming what was found.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), OpKind activation = OpKind::kCount);

// Shape. reshape accepts one -1, inferred from the element count.
Tensor reshape(const Tensor& x, std::initializer_list<int64_t> dims);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const Dims& perm);
// Swaps the last two axes.
Tensor transpose(const Tensor& x);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums `x` down to `shape`, undoing a broadcast (the VJP of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Joins tensors along `axis`: they share a dtype, a rank and every other
// dimension (ShapeError naming both shapes otherwise). At least one tensor.
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
// The box x[begin[0]:end[0], begin[1]:end[1], ...] as a new tensor. Negative
// entries count from the end of their axis; axes past begin.size() are taken
// whole. Throws ShapeError unless 0 <= begin <= end <= dim on every axis.
Tensor slice(const Tensor& x, const Dims& begin, const Dims& end);
// x surrounded by zeros: before[d] zeros ahead of axis d and after[d] behind
// it (one entry per axis, all >= 0). The adjoint of slice.
Tensor pad(const Tensor& x, const Dims& before, const Dims& after);

// Indexing. `indices` are int64 in [0, dim) (ValueError naming the bad index
// and its position otherwise; no negative indices).
// Picks entries of x along `axis` (NumPy's take): the result has shape
// x.shape[:axis] + indices.shape + x.shape[axis+1:].
Tensor gather(const Tensor& x, const Tensor& indices, int64_t axis = 0);
// The adjoint of gather: a zero tensor of `shape` to which slice j of
// `updates` along `axis` is added at index indices[j]; repeated indices add
// up. updates must have shape shape[:axis] + indices.shape + shape[axis+1:].
Tensor scatter_add(const Tensor& updates, const Tensor& indices, const Shape& shape, int64_t axis = 0);
// indices.shape + [depth] with a 1 at each index, 0 elsewhere. Indices must be
// int64 in [0, depth). No gradient flows through it.
Tensor one_hot(const Tensor& indices, int64_t depth, DType dtype = DType::kFloat32);

// Neural-network functions over one axis (float only), numerically stable:
// the maximum along the axis is subtracted before exp().
// exp(x) / sum(exp(x), axis).
Tensor softmax(const Tensor& x, int64_t axis = -1);
// x - log(sum(exp(x), axis)).
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

// Losses.
// mean((prediction - target)^2) over every element.
Tensor mse_loss(const Tensor& prediction, const Tensor& target);
// Per-example cross-entropy of integer labels under softmax(logits):
// logits [N, C] float, labels int64 [N] in [0, C) -> loss [N] with
// loss[i] = logsumexp(logits[i]) - logits[i, labels[i]], computed in one fused,
// stable pass. Throws ValueError naming the first label out of range, its
// position and C. Take mean() of the result for the usual batch loss.
Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels);

// An LSTM's recurrence over a whole sequence, from the state (h0, c0) or
// the zero state, the way cuDNN runs it: the caller computes every step's input projection in one
// product beforehand (xp = x kernel + bias, e.g. with linear()), the op runs
// the T recurrent products and one fused pass over the gates per step, and
// its gradient sweeps back through the steps once (lstm_sequence_grad), so
// the weight gradients are single products over all steps.
//   xp [T, B, 4h]: time-major projections, gates stacked [i | f | g | o];
//   u  [h, 4h]:    the recurrent kernel;
//   h0, c0 [B, h]: the initial state, both or neither (zeros).
// Returns y [T, B, 7h]: per step and example the row
//   [sigmoid(i) | sigmoid(f) | tanh(g) | sigmoid(o) | c | tanh(c) | h]
// with c_t = f c_{t-1} + i g, h_t = o tanh(c_t), (h_{-1}, c_{-1}) = (h0, c0),
// and z_t = xp_t + h_{t-1} u the gates' pre-activations. h is the last h
// columns (slice(y, {0, 0, 6h}, {T, B, 7h})), c the fifth h. float32 or
// float64, one dtype; T >= 1. Throws ShapeError / DTypeError naming the
// shapes found, ValueError for only one of h0 and c0.
Tensor lstm_sequence(const Tensor& xp, const Tensor& u, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
// The backward sweep of lstm_sequence: given its output y, u, the gradient
// grad_y of a loss with respect to y (any of its columns) and the initial c0
// when the sequence had one, the gradient with respect to every z_t (and so
// to xp), [T, B, 4h]; with c0, [T + 1, B, 4h], whose last step holds per
// example [dh0 | dc0 | 0 | 0], the gradients reaching the initial state. Not
// differentiable again (ValueError when a second derivative reaches it).
Tensor lstm_sequence_grad(const Tensor& y, const Tensor& u, const Tensor& grad_y, const Tensor& c0 = Tensor());

// Convolution and pooling over the two spatial axes of NCHW tensors.
//
//   Tensor y = conv2d(x, w, Conv2dOptions().stride(2).padding(Padding::kSame));
//   Tensor p = max_pool2d(y, Pool2dOptions(2));          // 2x2 windows, stride 2
//   Tensor z = flatten(global_avg_pool2d(p));
//
// Spatial pairs are (height, width). float32 or float64 only (DTypeError
// otherwise). Wrong shapes or options throw ShapeError naming the op and
// every shape involved.

// How the spatial axes are padded.
enum class Padding {
  kExplicit,  // the amounts given to padding(h, w), on both sides (zero by default)
  kValid,     // no padding: windows lie entirely inside the input
  kSame,      // output = ceil(input / stride); the total padding is split with the
              // odd element after (bottom / right), as TensorFlow's "SAME"
};

// Options of conv2d and its gradients (PyTorch's nn.Conv2d without bias:
// the layer adds its bias). Defaults: stride 1, no padding, dilation 1, one group.
class Conv2dOptions {
 public:
  // The step between windows: one for both axes, or (height, width).
  Conv2dOptions& stride(int64_t s) { return stride(s, s); }
  Conv2dOptions& stride(int64_t h, int64_t w) { stride_ = {h, w}; return *this; }
  // Explicit zero padding on both sides of each axis.
  Conv2dOptions& padding(int64_t p) { return padding(p, p); }
  Conv2dOptions& padding(int64_t h, int64_t w) { padding_ = {h, w}; mode_ = Padding::kExplicit; return *this; }
  Conv2dOptions& padding(Padding mode) { padding_ = {0, 0}; mode_ = mode; return *this; }
  // The spacing between kernel taps: one for both axes, or (height, width).
  Conv2dOptions& dilation(int64_t d) { return dilation(d, d); }
  Conv2dOptions& dilation(int64_t h, int64_t w) { dilation_ = {h, w}; return *this; }
  // Input and output channels split into `g` groups; channel group i of the
  // output sees only channel group i of the input (g = C: depthwise).
  Conv2dOptions& groups(int64_t g) { groups_ = g; return *this; }

  // The values set above as (height, width), or their defaults; padding()
  // is the explicit amounts, {0, 0} unless padding_mode() is kExplicit.
  std::array<int64_t, 2> stride() const { return stride_; }
  std::array<int64_t, 2> padding() const { return padding_; }
  Padding padding_mode() const { return mode_; }
  std::array<int64_t, 2> dilation() const { return dilation_; }
  int64_t groups() const { return groups_; }

 private:
  std::array<int64_t, 2> stride_{1, 1};
  std::array<int64_t, 2> padding_{0, 0};
  Padding mode_ = Padding::kExplicit;
  std::array<int64_t, 2> dilation_{1, 1};
  int64_t groups_ = 1;
};

// Options of max_pool2d and avg_pool2d: the window, and a stride that
// defaults to the window (non-overlapping windows).
class Pool2dOptions {
 public:
  // A `kernel` x `kernel` window, or `h` x `w`; the stride starts equal to it.
  explicit Pool2dOptions(int64_t kernel) : Pool2dOptions(kernel, kernel) {}
  Pool2dOptions(int64_t h, int64_t w) : kernel_{h, w}, stride_{h, w} {}
  // The step between windows: one for both axes, or (height, width).
  Pool2dOptions& stride(int64_t s) { return stride(s, s); }
  Pool2dOptions& stride(int64_t h, int64_t w) { stride_ = {h, w}; return *this; }
  // Padding on both sides of each axis, or a Padding mode; padded positions
  // never win a max and are not counted in an average.
  Pool2dOptions& padding(int64_t p) { return padding(p, p); }
  Pool2dOptions& padding(int64_t h, int64_t w) { padding_ = {h, w}; mode_ = Padding::kExplicit; return *this; }
  Pool2dOptions& padding(Padding mode) { padding_ = {0, 0}; mode_ = mode; return *this; }

  // The values set above as (height, width), or their defaults.
  std::array<int64_t, 2> kernel() const { return kernel_; }
  std::array<int64_t, 2> stride() const { return stride_; }
  std::array<int64_t, 2> padding() const { return padding_; }
  Padding padding_mode() const { return mode_; }

 private:
  std::array<int64_t, 2> kernel_;
  std::array<int64_t, 2> stride_;
  std::array<int64_t, 2> padding_{0, 0};
  Padding mode_ = Padding::kExplicit;
};

// x [N, C, H, W], w [O, C / groups, KH, KW] (OIHW) -> [N, O, OH, OW] with
// OH = (H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h + 1
// (likewise OW): y[n, o] = sum over c, i, j of w[o, c, i, j] * x[n, g*C/groups + c,
// oh*stride + i*dilation - pad_top, ...], zero outside x. Runs as im2col
// onto BLAS gemm. Throws ShapeError when ranks are not 4, the channels do not
// match w (or do not divide into groups), or the padded input is smaller than
// the dilated kernel.
Tensor conv2d(const Tensor& x, const Tensor& w, const Conv2dOptions& options = {});
// conv2d(x, w, options) + b per output channel, as one op: b is [O] (a
// Conv2d layer's bias), added as the output is written rather than in a
// pass of its own; an undefined b is no bias. Values and gradients equal
// those of conv2d(x, w, options) + reshape(b, {1, O, 1, 1}). Throws
// ShapeError when b is not [O], besides conv2d's errors.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& options = {});
// The vector-Jacobian products of conv2d, ops of their own (so they are
// captured, and differentiable again): the gradient with respect to x of
// sum(conv2d(x, w) * grad_y), for an x of shape `x_shape` (also the
// transposed convolution of grad_y) ...
Tensor conv2d_grad_input(const Tensor& grad_y, const Tensor& w, const Shape& x_shape,
                         const Conv2dOptions& options = {});
// ... and with respect to w, for a w of shape `w_shape`.
Tensor conv2d_grad_weight(const Tensor& x, const Tensor& grad_y, const Shape& w_shape,
                          const Conv2dOptions& options = {});

// x [N, C, H, W] -> [N, C, OH, OW], the maximum of each window (padding never
// wins: padded positions are ignored). The gradient flows to the first
// maximum of each window (row-major within the window).
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
// As max_pool2d, the mean of each window over its positions inside x
// (padding is not counted, as Keras and count_include_pad=False).
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
// The pools' vector-Jacobian products, ops of their own like conv2d's:
// grad_y [N, C, OH, OW] routed to the window maxima of x (summed where
// windows overlap) ...
Tensor max_pool2d_grad(const Tensor& x, const Tensor& grad_y, const Pool2dOptions& options);
// ... and spread evenly over each window, for an input of shape `x_shape`.
Tensor avg_pool2d_grad(const Tensor& grad_y, const Shape& x_shape, const Pool2dOptions& options);
// [N, C, H, W] -> [N, C]: the mean over H and W (a composition of mean).
Tensor global_avg_pool2d(const Tensor& x);

// Batch normalisation with the batch's own statistics (training mode), one
// op: x [N, C] or [N, C, H, W] (float), gamma and beta [C] of x's dtype:
// y = (x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c, with mean_c and
// the biased var_c taken over every axis but 1. Values and gradients (of x,
// gamma and beta) equal the composition of mean, square and sqrt; the
// backward is two passes over x (batch_norm_sums, batch_norm_grad_input).
// Second derivatives through it throw ValueError. Throws ShapeError /
// DTypeError naming what was found, ValueError for eps <= 0.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
// [2, C]: row 0 the means, row 1 the biased variances of x's channels, as
// batch_norm uses them (differentiable).
Tensor batch_norm_stats(const Tensor& x);
// batch_norm's backward pieces, ops of their own: [4, C] with sum(grad_y)
// (beta's gradient), sum(grad_y * x_hat) (gamma's), then x's means and
// variances, per channel ...
Tensor batch_norm_sums(const Tensor& x, const Tensor& grad_y, double eps);
// ... and x's gradient, given those sums.
Tensor batch_norm_grad_input(const Tensor& x, const Tensor& gamma, const Tensor& grad_y, const Tensor& sums,
                             double eps);
// Joins axes start_dim.. into one: [N, C, H, W] -> [N, C*H*W] for start_dim 1
// (a reshape; the element order is row-major, so channel c spans H*W
// consecutive features). start_dim may be negative; ShapeError outside [-rank, rank).
Tensor flatten(const Tensor& x, int64_t start_dim = 1);

// Optimizer updates, each one pass over a variable (graft/optim uses them).
// Each returns the variable's new value and rewrites its slot tensors in
// place; the math, the order of operations and every rounding are those of
// the graft ops the optimizers composed before. No gradient flows through
// them. Every tensor has p's dtype (float32 or float64); g and the slots
// have p's shape, the rates are scalars.
// SGD: g' = g + p * weight_decay; without momentum p - lr g'; with it
// buf <- buf * momentum + g' and p - lr buf (Nesterov: p - lr (g' + buf * momentum)).
// `momentum_buf` is undefined exactly when attrs.momentum is 0.
Tensor sgd_update(const Tensor& p, const Tensor& g, const Tensor& lr, const Tensor& momentum_buf,
                  const UpdateAttrs& attrs);
// Adam: g' = g + p * weight_decay (L2) or p' = p * (1 - lr weight_decay)
// (decoupled, AdamW); m <- m b1 + g' (1 - b1); v <- v b2 + g'^2 (1 - b2);
// p' - lr (m / bias1) / (sqrt(v / bias2) + eps), bias_k = 1 - b_k^t.
Tensor adam_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& lr,
                   const Tensor& bias1, const Tensor& bias2, const UpdateAttrs& attrs);

// Operators for the functions above; a double operand takes the tensor's
// dtype (a 0-d tensor of it).
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
inline Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
inline Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
inline Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace graft
