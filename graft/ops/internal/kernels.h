// graft/ops/internal/kernels.h: shape inference, kernels and VJPs of each op
// family, declared for the op table (op_table.cc). Not a public header.
#pragma once

#include <span>
#include <string_view>

#include "graft/ops/op_table.h"

namespace graft::ops::internal {

#define GRAFT_DECLARE_INFER(name) \
  TensorMeta name(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs)
#define GRAFT_DECLARE_FORWARD(name) \
  void name(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs)
#define GRAFT_DECLARE_VJP(name) void name(const VjpContext& ctx, std::span<Tensor> grad)

// Whether `v` converts to int64 as a value rather than as undefined
// behaviour: false for NaN, the infinities and anything outside
// [-2^63, 2^63) (both bounds exact in double). fill, arange and cast check
// it before they write an int64.
inline bool fits_int64(double v) { return v >= -0x1p63 && v < 0x1p63; }

// Shared inference rules.
GRAFT_DECLARE_INFER(infer_fill);
GRAFT_DECLARE_INFER(infer_binary);      // broadcast, same dtype
GRAFT_DECLARE_INFER(infer_binary_float);  // as above, floating point only
GRAFT_DECLARE_INFER(infer_unary);
GRAFT_DECLARE_INFER(infer_unary_float);
GRAFT_DECLARE_INFER(infer_where);
GRAFT_DECLARE_INFER(infer_cast);
GRAFT_DECLARE_INFER(infer_reduce);
GRAFT_DECLARE_INFER(infer_matmul);
GRAFT_DECLARE_INFER(infer_linear);
GRAFT_DECLARE_INFER(infer_reshape);
GRAFT_DECLARE_INFER(infer_permute);
GRAFT_DECLARE_INFER(infer_broadcast_to);
GRAFT_DECLARE_INFER(infer_arange);
GRAFT_DECLARE_INFER(infer_random);
GRAFT_DECLARE_INFER(infer_concat);
GRAFT_DECLARE_INFER(infer_slice);
GRAFT_DECLARE_INFER(infer_pad);
GRAFT_DECLARE_INFER(infer_gather);
GRAFT_DECLARE_INFER(infer_scatter_add);
GRAFT_DECLARE_INFER(infer_one_hot);
GRAFT_DECLARE_INFER(infer_softmax);  // softmax and log_softmax
GRAFT_DECLARE_INFER(infer_sparse_softmax_cross_entropy);
GRAFT_DECLARE_INFER(infer_lstm_sequence);
GRAFT_DECLARE_INFER(infer_lstm_sequence_grad);
GRAFT_DECLARE_INFER(infer_batch_norm_stats);
GRAFT_DECLARE_INFER(infer_batch_norm);
GRAFT_DECLARE_INFER(infer_batch_norm_sums);
GRAFT_DECLARE_INFER(infer_batch_norm_grad_input);
GRAFT_DECLARE_INFER(infer_conv2d);
GRAFT_DECLARE_INFER(infer_conv2d_grad_input);
GRAFT_DECLARE_INFER(infer_conv2d_grad_weight);
GRAFT_DECLARE_INFER(infer_max_pool2d);
GRAFT_DECLARE_INFER(infer_max_pool2d_grad);
GRAFT_DECLARE_INFER(infer_avg_pool2d);
GRAFT_DECLARE_INFER(infer_avg_pool2d_grad);
GRAFT_DECLARE_INFER(infer_sgd_update);
GRAFT_DECLARE_INFER(infer_adam_update);

// Forward kernels.
GRAFT_DECLARE_FORWARD(fill_forward);
GRAFT_DECLARE_FORWARD(add_forward);
GRAFT_DECLARE_FORWARD(sub_forward);
GRAFT_DECLARE_FORWARD(mul_forward);
GRAFT_DECLARE_FORWARD(div_forward);
GRAFT_DECLARE_FORWARD(pow_forward);
GRAFT_DECLARE_FORWARD(maximum_forward);
GRAFT_DECLARE_FORWARD(minimum_forward);
GRAFT_DECLARE_FORWARD(equal_forward);
GRAFT_DECLARE_FORWARD(not_equal_forward);
GRAFT_DECLARE_FORWARD(less_forward);
GRAFT_DECLARE_FORWARD(less_equal_forward);
GRAFT_DECLARE_FORWARD(greater_forward);
GRAFT_DECLARE_FORWARD(greater_equal_forward);
GRAFT_DECLARE_FORWARD(where_forward);
GRAFT_DECLARE_FORWARD(neg_forward);
GRAFT_DECLARE_FORWARD(exp_forward);
GRAFT_DECLARE_FORWARD(log_forward);
GRAFT_DECLARE_FORWARD(sqrt_forward);
GRAFT_DECLARE_FORWARD(tanh_forward);
GRAFT_DECLARE_FORWARD(sigmoid_forward);
GRAFT_DECLARE_FORWARD(relu_forward);
GRAFT_DECLARE_FORWARD(abs_forward);
GRAFT_DECLARE_FORWARD(square_forward);
GRAFT_DECLARE_FORWARD(sign_forward);
GRAFT_DECLARE_FORWARD(copy_forward);
GRAFT_DECLARE_FORWARD(cast_forward);
GRAFT_DECLARE_FORWARD(sum_forward);
GRAFT_DECLARE_FORWARD(max_forward);
GRAFT_DECLARE_FORWARD(matmul_forward);
GRAFT_DECLARE_FORWARD(linear_forward);
GRAFT_DECLARE_FORWARD(permute_forward);
GRAFT_DECLARE_FORWARD(broadcast_to_forward);
GRAFT_DECLARE_FORWARD(arange_forward);
GRAFT_DECLARE_FORWARD(random_uniform_forward);
GRAFT_DECLARE_FORWARD(random_normal_forward);
GRAFT_DECLARE_FORWARD(truncated_normal_forward);
GRAFT_DECLARE_FORWARD(concat_forward);
GRAFT_DECLARE_FORWARD(slice_forward);
GRAFT_DECLARE_FORWARD(pad_forward);
GRAFT_DECLARE_FORWARD(gather_forward);
GRAFT_DECLARE_FORWARD(scatter_add_forward);
GRAFT_DECLARE_FORWARD(one_hot_forward);
GRAFT_DECLARE_FORWARD(softmax_forward);
GRAFT_DECLARE_FORWARD(log_softmax_forward);
GRAFT_DECLARE_FORWARD(sparse_softmax_cross_entropy_forward);
GRAFT_DECLARE_FORWARD(lstm_sequence_forward);
GRAFT_DECLARE_FORWARD(lstm_sequence_grad_forward);
GRAFT_DECLARE_FORWARD(batch_norm_stats_forward);
GRAFT_DECLARE_FORWARD(batch_norm_forward);
GRAFT_DECLARE_FORWARD(batch_norm_sums_forward);
GRAFT_DECLARE_FORWARD(batch_norm_grad_input_forward);
GRAFT_DECLARE_FORWARD(conv2d_forward);
GRAFT_DECLARE_FORWARD(conv2d_grad_input_forward);
GRAFT_DECLARE_FORWARD(conv2d_grad_weight_forward);
GRAFT_DECLARE_FORWARD(max_pool2d_forward);
GRAFT_DECLARE_FORWARD(max_pool2d_grad_forward);
GRAFT_DECLARE_FORWARD(avg_pool2d_forward);
GRAFT_DECLARE_FORWARD(avg_pool2d_grad_forward);
GRAFT_DECLARE_FORWARD(sgd_update_forward);
GRAFT_DECLARE_FORWARD(adam_update_forward);

// Vector-Jacobian products.
GRAFT_DECLARE_VJP(add_vjp);
GRAFT_DECLARE_VJP(sub_vjp);
GRAFT_DECLARE_VJP(mul_vjp);
GRAFT_DECLARE_VJP(div_vjp);
GRAFT_DECLARE_VJP(pow_vjp);
GRAFT_DECLARE_VJP(maximum_vjp);
GRAFT_DECLARE_VJP(minimum_vjp);
GRAFT_DECLARE_VJP(where_vjp);
GRAFT_DECLARE_VJP(neg_vjp);
GRAFT_DECLARE_VJP(exp_vjp);
GRAFT_DECLARE_VJP(log_vjp);
GRAFT_DECLARE_VJP(sqrt_vjp);
GRAFT_DECLARE_VJP(tanh_vjp);
GRAFT_DECLARE_VJP(sigmoid_vjp);
GRAFT_DECLARE_VJP(relu_vjp);
GRAFT_DECLARE_VJP(abs_vjp);
GRAFT_DECLARE_VJP(square_vjp);
GRAFT_DECLARE_VJP(cast_vjp);
GRAFT_DECLARE_VJP(sum_vjp);
GRAFT_DECLARE_VJP(max_vjp);
GRAFT_DECLARE_VJP(matmul_vjp);
GRAFT_DECLARE_VJP(linear_vjp);
GRAFT_DECLARE_VJP(reshape_vjp);
GRAFT_DECLARE_VJP(permute_vjp);
GRAFT_DECLARE_VJP(broadcast_to_vjp);
GRAFT_DECLARE_VJP(concat_vjp);
GRAFT_DECLARE_VJP(slice_vjp);
GRAFT_DECLARE_VJP(pad_vjp);
GRAFT_DECLARE_VJP(gather_vjp);
GRAFT_DECLARE_VJP(scatter_add_vjp);
GRAFT_DECLARE_VJP(softmax_vjp);
GRAFT_DECLARE_VJP(log_softmax_vjp);
GRAFT_DECLARE_VJP(sparse_softmax_cross_entropy_vjp);
GRAFT_DECLARE_VJP(lstm_sequence_vjp);
GRAFT_DECLARE_VJP(lstm_sequence_grad_vjp);
GRAFT_DECLARE_VJP(batch_norm_stats_vjp);
GRAFT_DECLARE_VJP(batch_norm_vjp);
GRAFT_DECLARE_VJP(batch_norm_sums_vjp);
GRAFT_DECLARE_VJP(batch_norm_grad_input_vjp);
GRAFT_DECLARE_VJP(conv2d_vjp);
GRAFT_DECLARE_VJP(conv2d_grad_input_vjp);
GRAFT_DECLARE_VJP(conv2d_grad_weight_vjp);
GRAFT_DECLARE_VJP(max_pool2d_vjp);
GRAFT_DECLARE_VJP(max_pool2d_grad_vjp);
GRAFT_DECLARE_VJP(avg_pool2d_vjp);
GRAFT_DECLARE_VJP(avg_pool2d_grad_vjp);

// Calls f(float{}) or f(double{}) for a floating-point dtype: the dispatch of
// kernels whose inference admits floating point only. Any other dtype
// reaching it is a bug (InternalError naming `op`), never a silent float.
template <typename F>
void visit_floating(DType dtype, std::string_view op, F&& f) {
  switch (dtype) {
    case DType::kFloat32: f(float{}); return;
    case DType::kFloat64: f(double{}); return;
    case DType::kInt64:
    case DType::kCount: break;
  }
  GRAFT_INTERNAL_ASSERT(false, op, " ran on ", dtype_name(dtype), "; it admits float32 and float64 only");
}

// The broadcast of two shapes; throws ShapeError naming `def`'s op.
Shape broadcast_shapes(const OpDef& def, const Shape& a, const Shape& b);
// Throws DTypeError unless every input has the same dtype.
void check_same_dtype(const OpDef& def, std::span<const Tensor> in);
void check_floating(const OpDef& def, const Tensor& t, int index);
// Throws ValueError unless every value of the int64 tensor `indices` is in
// [0, size), naming the first bad one, its position and `range` ("10 classes").
void check_index_range(const OpDef& def, const Tensor& indices, int64_t size, std::string_view noun,
                       std::string_view range);

}  // namespace graft::ops::internal
