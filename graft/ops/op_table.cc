#include "graft/ops/op_table.h"

#include <array>

#include "graft/ops/internal/elementwise_math.h"
#include "graft/ops/internal/kernels.h"

namespace graft {
namespace {

using namespace ops::internal;  // NOLINT: the table names every kernel

// Attributes read by each op are noted beside its row.
constexpr std::array<OpDef, static_cast<size_t>(OpKind::kCount)> kOpTable = {{
    {OpKind::kFill, "fill", 0, infer_fill, fill_forward, nullptr},  // shape, scalar, dtype
    {OpKind::kArange, "arange", 0, infer_arange, arange_forward, nullptr},  // start, stop, step, dtype
    {OpKind::kRandomUniform, "random_uniform", 0, infer_random, random_uniform_forward, nullptr},  // shape, dtype, seed, low, high
    {OpKind::kRandomNormal, "random_normal", 0, infer_random, random_normal_forward, nullptr},  // shape, dtype, seed, mean, stddev
    {OpKind::kTruncatedNormal, "truncated_normal", 0, infer_random, truncated_normal_forward, nullptr},  // as random_normal
    {OpKind::kAdd, "add", 2, infer_binary, add_forward, add_vjp},
    {OpKind::kSub, "sub", 2, infer_binary, sub_forward, sub_vjp},
    {OpKind::kMul, "mul", 2, infer_binary, mul_forward, mul_vjp},
    {OpKind::kDiv, "div", 2, infer_binary, div_forward, div_vjp},
    {OpKind::kPow, "pow", 2, infer_binary_float, pow_forward, pow_vjp},
    {OpKind::kMaximum, "maximum", 2, infer_binary, maximum_forward, maximum_vjp},
    {OpKind::kMinimum, "minimum", 2, infer_binary, minimum_forward, minimum_vjp},
    {OpKind::kEqual, "equal", 2, infer_binary, equal_forward, nullptr},
    {OpKind::kNotEqual, "not_equal", 2, infer_binary, not_equal_forward, nullptr},
    {OpKind::kLess, "less", 2, infer_binary, less_forward, nullptr},
    {OpKind::kLessEqual, "less_equal", 2, infer_binary, less_equal_forward, nullptr},
    {OpKind::kGreater, "greater", 2, infer_binary, greater_forward, nullptr},
    {OpKind::kGreaterEqual, "greater_equal", 2, infer_binary, greater_equal_forward, nullptr},
    {OpKind::kWhere, "where", 3, infer_where, where_forward, where_vjp},
    {OpKind::kNeg, "neg", 1, infer_unary, neg_forward, neg_vjp},
    {OpKind::kExp, "exp", 1, infer_unary_float, exp_forward, exp_vjp},
    {OpKind::kLog, "log", 1, infer_unary_float, log_forward, log_vjp},
    {OpKind::kSqrt, "sqrt", 1, infer_unary_float, sqrt_forward, sqrt_vjp},
    {OpKind::kTanh, "tanh", 1, infer_unary_float, tanh_forward, tanh_vjp},
    {OpKind::kSigmoid, "sigmoid", 1, infer_unary_float, sigmoid_forward, sigmoid_vjp},
    {OpKind::kRelu, "relu", 1, infer_unary, relu_forward, relu_vjp},
    {OpKind::kAbs, "abs", 1, infer_unary, abs_forward, abs_vjp},
    {OpKind::kSquare, "square", 1, infer_unary, square_forward, square_vjp},
    {OpKind::kSign, "sign", 1, infer_unary, sign_forward, nullptr},
    {OpKind::kStopGradient, "stop_gradient", 1, infer_unary, copy_forward, nullptr},
    {OpKind::kCast, "cast", 1, infer_cast, cast_forward, cast_vjp},  // dtype
    {OpKind::kSum, "sum", 1, infer_reduce, sum_forward, sum_vjp},    // axes, keepdims
    {OpKind::kMax, "max", 1, infer_reduce, max_forward, max_vjp},    // axes, keepdims
    {OpKind::kMatMul, "matmul", 2, infer_matmul, matmul_forward, matmul_vjp},  // transpose_a, transpose_b
    {OpKind::kLinear, "linear", kVariadic, infer_linear, linear_forward, linear_vjp},  // activation
    {OpKind::kReshape, "reshape", 1, infer_reshape, nullptr, reshape_vjp, /*view_of_input=*/true},  // shape
    {OpKind::kPermute, "permute", 1, infer_permute, permute_forward, permute_vjp},  // axes
    {OpKind::kBroadcastTo, "broadcast_to", 1, infer_broadcast_to, broadcast_to_forward, broadcast_to_vjp},  // shape
    {OpKind::kConcat, "concat", kVariadic, infer_concat, concat_forward, concat_vjp},  // axis
    {OpKind::kSlice, "slice", 1, infer_slice, slice_forward, slice_vjp},  // begin, shape (the extent)
    {OpKind::kPad, "pad", 1, infer_pad, pad_forward, pad_vjp},            // begin, shape (the output)
    {OpKind::kGather, "gather", 2, infer_gather, gather_forward, gather_vjp},  // axis
    {OpKind::kScatterAdd, "scatter_add", 2, infer_scatter_add, scatter_add_forward, scatter_add_vjp},  // shape, axis
    {OpKind::kOneHot, "one_hot", 1, infer_one_hot, one_hot_forward, nullptr},  // depth, dtype
    {OpKind::kSoftmax, "softmax", 1, infer_softmax, softmax_forward, softmax_vjp},  // axis
    {OpKind::kLogSoftmax, "log_softmax", 1, infer_softmax, log_softmax_forward, log_softmax_vjp},  // axis
    {OpKind::kSparseSoftmaxCrossEntropy, "sparse_softmax_cross_entropy", 2, infer_sparse_softmax_cross_entropy,
     sparse_softmax_cross_entropy_forward, sparse_softmax_cross_entropy_vjp},
    // Inputs (xp [T, B, 4h], u [h, 4h]) -> y [T, B, 7h]; (y, u, grad_y) -> grad of the gates' pre-activations.
    {OpKind::kLstmSequence, "lstm_sequence", kVariadic, infer_lstm_sequence, lstm_sequence_forward,
     lstm_sequence_vjp},  // xp, u[, h0, c0]
    {OpKind::kLstmSequenceGrad, "lstm_sequence_grad", kVariadic, infer_lstm_sequence_grad, lstm_sequence_grad_forward,
     lstm_sequence_grad_vjp},
    // Inputs (x, w[, b]) -> y; (grad_y, w) -> grad_x; (x, grad_y) -> grad_w. All read window; the gradients, shape.
    {OpKind::kConv2d, "conv2d", kVariadic, infer_conv2d, conv2d_forward, conv2d_vjp},
    {OpKind::kConv2dGradInput, "conv2d_grad_input", 2, infer_conv2d_grad_input, conv2d_grad_input_forward,
     conv2d_grad_input_vjp},
    {OpKind::kConv2dGradWeight, "conv2d_grad_weight", 2, infer_conv2d_grad_weight, conv2d_grad_weight_forward,
     conv2d_grad_weight_vjp},
    // Inputs (keys, values) -> values at the keys' window maxima; (x, grad_y) -> grad_x. window
    {OpKind::kMaxPool2d, "max_pool2d", 2, infer_max_pool2d, max_pool2d_forward, max_pool2d_vjp},
    {OpKind::kMaxPool2dGrad, "max_pool2d_grad", 2, infer_max_pool2d_grad, max_pool2d_grad_forward,
     max_pool2d_grad_vjp},
    {OpKind::kAvgPool2d, "avg_pool2d", 1, infer_avg_pool2d, avg_pool2d_forward, avg_pool2d_vjp},  // window
    {OpKind::kAvgPool2dGrad, "avg_pool2d_grad", 1, infer_avg_pool2d_grad, avg_pool2d_grad_forward,
     avg_pool2d_grad_vjp},  // window, shape (the input's)
    // Inputs x -> [2, C] (means, variances); (x, gamma, beta) -> y; (x, grad_y) -> [4, C] sums;
    // (x, gamma, grad_y, sums) -> grad_x. All but the first read scalar (eps).
    {OpKind::kBatchNormStats, "batch_norm_stats", 1, infer_batch_norm_stats, batch_norm_stats_forward,
     batch_norm_stats_vjp},
    {OpKind::kBatchNorm, "batch_norm", 3, infer_batch_norm, batch_norm_forward, batch_norm_vjp},
    {OpKind::kBatchNormSums, "batch_norm_sums", 2, infer_batch_norm_sums, batch_norm_sums_forward,
     batch_norm_sums_vjp},
    {OpKind::kBatchNormGradInput, "batch_norm_grad_input", 4, infer_batch_norm_grad_input,
     batch_norm_grad_input_forward, batch_norm_grad_input_vjp},
    {OpKind::kSgdUpdate, "sgd_update", kVariadic, infer_sgd_update, sgd_update_forward, nullptr},  // update
    {OpKind::kAdamUpdate, "adam_update", 7, infer_adam_update, adam_update_forward, nullptr},  // update
}};

constexpr bool rows_match_kinds() {
  for (size_t i = 0; i < kOpTable.size(); ++i) {
    if (static_cast<size_t>(kOpTable[i].kind) != i || kOpTable[i].name == nullptr) return false;
  }
  return true;
}
static_assert(rows_match_kinds(), "kOpTable needs exactly one row per OpKind, in OpKind order");

// An op with elementwise math (elementwise_math.h) takes as many inputs as
// its functor, so the fused loops and the eager kernels agree on operands.
constexpr bool elementwise_arities_match() {
  for (const OpDef& def : kOpTable) {
    int arity = def.arity;
    visit_elementwise(def.kind, [&](auto math) { arity = decltype(math)::kArity; });
    if (arity != def.arity) return false;
  }
  return true;
}
static_assert(elementwise_arities_match(), "an elementwise functor's kArity differs from its op's table row");

}  // namespace

const OpDef& op_def(OpKind kind) {
  auto index = static_cast<size_t>(kind);
  GRAFT_INTERNAL_ASSERT(index < kOpTable.size(), "op kind ", index, " has no table row");
  return kOpTable[index];
}

std::string_view op_name(OpKind kind) { return op_def(kind).name; }

}  // namespace graft
