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

#include "graft/ops/dispatch.h"

namespace graft {

// Creation.
Tensor full(const Shape& shape, double value, DType dtype = DType::kFloat32);
Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32);
Tensor ones(const Shape& shape, DType dtype = DType::kFloat32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
// A 0-d tensor holding `value` in `like`'s dtype.
Tensor scalar_like(double value, const Tensor& like);

// Elementwise binary (broadcasting).
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

// Elementwise unary.
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

// Reductions. Empty `axes` reduces over every axis; negative axes count from
// the end.
Tensor sum(const Tensor& x, const Dims& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const Dims& axes = {}, bool keepdims = false);
Tensor max(const Tensor& x, const Dims& axes = {}, bool keepdims = false);

// Matrix product through BLAS. Rank 2 x rank 2; batched rank >= 3 with equal
// batch dimensions; or rank >= 3 x rank 2 (the batch folds into rows).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// Shape. reshape accepts one -1, inferred from the element count.
Tensor reshape(const Tensor& x, std::initializer_list<int64_t> dims);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const Dims& perm);
// Swaps the last two axes.
Tensor transpose(const Tensor& x);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums `x` down to `shape`, undoing a broadcast (the VJP of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// Losses (compositions).
// mean((prediction - target)^2) over every element.
Tensor mse_loss(const Tensor& prediction, const Tensor& target);

// Operators.
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
