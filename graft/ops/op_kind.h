// graft/ops/op_kind.h: the primitive operations and their attributes.
//
// The primitive set is small on purpose (STYLE.md): softmax cross-entropy,
// mean squared error, LSTM gates and the like are compositions in ops.h unless
// a fused kernel is measurably faster. Adding an op: see graft/ops/README.md.
#pragma once

#include <array>
#include <cstdint>

#include "graft/tensor/dtype.h"
#include "graft/tensor/shape.h"

namespace graft {

enum class OpKind : uint16_t {
  // Creation (no inputs). Random ops are pure functions of their seed.
  kFill,
  kArange,
  kRandomUniform,
  kRandomNormal,
  kTruncatedNormal,
  // Elementwise, NumPy broadcasting.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMaximum,
  kMinimum,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kWhere,
  kNeg,
  kExp,
  kLog,
  kSqrt,
  kTanh,
  kSigmoid,
  kRelu,
  kAbs,
  kSquare,
  kSign,
  kStopGradient,
  kCast,
  // Reductions over axes.
  kSum,
  kMax,
  // Linear algebra.
  kMatMul,
  kLinear,  // act(x w + b) in one op: the bias folded into the product
  // Shape.
  kReshape,
  kPermute,
  kBroadcastTo,
  kConcat,
  kSlice,
  kPad,
  // Indexing along an axis.
  kGather,
  kScatterAdd,
  kOneHot,
  // Neural-network kernels, fused for speed and numerical stability.
  kSoftmax,
  kLogSoftmax,
  kSparseSoftmaxCrossEntropy,
  // A whole LSTM sequence (lstm_ops.cc): the recurrence over every time step
  // in one op, its backward sweep in another, so that the input projections
  // and weight gradients run as single products outside the loop.
  kLstmSequence,
  kLstmSequenceGrad,
  // Convolution and pooling over NCHW (conv.cc, pool.cc). The gradient ops
  // are each other's VJPs, so second derivatives stay inside the table.
  kConv2d,
  kConv2dGradInput,
  kConv2dGradWeight,
  kMaxPool2d,
  kMaxPool2dGrad,
  kAvgPool2d,
  kAvgPool2dGrad,
  // Batch normalisation with the batch's own statistics (batch_norm_ops.cc):
  // statistics and normalisation in one op each way; the backward pieces
  // refuse a second derivative.
  kBatchNormStats,
  kBatchNorm,
  kBatchNormSums,
  kBatchNormGradInput,
  // Optimizer updates, one pass over a variable; they rewrite their slot
  // inputs in place (graft/ops/update_ops.cc).
  kSgdUpdate,
  kAdamUpdate,
  kCount,
};

// Hyperparameters of the optimizer updates (sgd_update reads momentum,
// nesterov and weight_decay; adam_update beta1, beta2, eps, weight_decay and
// decoupled).
struct UpdateAttrs {
  double momentum = 0.0;
  double weight_decay = 0.0;
  double beta1 = 0.0;
  double beta2 = 0.0;
  double eps = 0.0;
  bool nesterov = false;
  bool decoupled = false;  // AdamW: decay the weights, not the gradient
};

// The window of a convolution or pooling over the two spatial axes, as
// (height, width) pairs. Padding is explicit here: "same" is resolved into
// pad_begin / pad_end before an op is applied.
struct Window2d {
  std::array<int64_t, 2> kernel{1, 1};     // pools only: conv2d reads its kernel from the weight
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> pad_begin{0, 0};  // zeros above and left of the input
  std::array<int64_t, 2> pad_end{0, 0};    // zeros below and right of it
  std::array<int64_t, 2> dilation{1, 1};   // conv2d only
  int64_t groups = 1;                      // conv2d only
};

// Attributes of one op application. Each op reads the fields it documents in
// op_table.cc and ignores the rest.
struct OpAttrs {
  Shape shape;            // target shape: fill, random ops, reshape, broadcast_to;
                          // slice: the extent; pad, scatter_add: the output shape;
                          // conv2d_grad_input, conv2d_grad_weight, avg_pool2d_grad: the output shape
  Dims axes;              // reduction axes (empty: all), permutation
  Dims begin;             // slice, pad: first index of the box per axis
  double scalar = 0.0;    // fill value
  double start = 0.0;     // arange: start, stop (exclusive), step
  double stop = 0.0;
  double step = 1.0;
  double low = 0.0;       // random_uniform: [low, high)
  double high = 1.0;
  double mean = 0.0;      // random_normal, truncated_normal
  double stddev = 1.0;
  uint64_t seed = 0;      // random ops: the stream (graft/tensor/random.h)
  int64_t axis = 0;       // concat, gather, scatter_add, softmax, log_softmax
  int64_t depth = 0;      // one_hot: number of classes
  DType dtype = DType::kFloat32;  // fill, arange, random ops, one_hot, cast
  bool keepdims = false;  // reductions
  bool transpose_a = false;  // matmul
  bool transpose_b = false;  // matmul
  Window2d window;        // conv2d, max_pool2d, avg_pool2d and their gradients
  // linear: the activation applied to x w + b (kRelu, kTanh, kSigmoid), or
  // kCount for none.
  OpKind activation = OpKind::kCount;
  UpdateAttrs update;  // sgd_update, adam_update
};

}  // namespace graft
