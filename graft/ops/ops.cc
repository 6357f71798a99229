#include "graft/ops/ops.h"

#include "graft/base/checked_size.h"

namespace graft {
namespace {

Tensor unary(OpKind kind, const Tensor& x) { return apply(kind, {x}); }
Tensor binary(OpKind kind, const Tensor& a, const Tensor& b) { return apply(kind, {a, b}); }

OpAttrs reduce_attrs(const Dims& axes, bool keepdims) {
  OpAttrs attrs;
  attrs.axes = axes;
  attrs.keepdims = keepdims;
  return attrs;
}

}  // namespace

Tensor full(const Shape& shape, double value, DType dtype) {
  OpAttrs attrs;
  attrs.shape = shape;
  attrs.scalar = value;
  attrs.dtype = dtype;
  return apply(OpKind::kFill, std::span<const Tensor>(), attrs);
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& like) { return full(like.shape(), 0.0, like.dtype()); }
Tensor ones_like(const Tensor& like) { return full(like.shape(), 1.0, like.dtype()); }
Tensor scalar_like(double value, const Tensor& like) { return full(Shape{}, value, like.dtype()); }

Tensor arange(double start, double stop, double step, DType dtype) {
  OpAttrs attrs;
  attrs.start = start;
  attrs.stop = stop;
  attrs.step = step;
  attrs.dtype = dtype;
  return apply(OpKind::kArange, std::span<const Tensor>(), attrs);
}

namespace {

Tensor random(OpKind kind, const Shape& shape, uint64_t seed, DType dtype, OpAttrs attrs) {
  attrs.shape = shape;
  attrs.seed = seed;
  attrs.dtype = dtype;
  return apply(kind, std::span<const Tensor>(), attrs);
}

}  // namespace

Tensor random_uniform(const Shape& shape, uint64_t seed, double low, double high, DType dtype) {
  OpAttrs attrs;
  attrs.low = low;
  attrs.high = high;
  return random(OpKind::kRandomUniform, shape, seed, dtype, attrs);
}

Tensor random_normal(const Shape& shape, uint64_t seed, double mean, double stddev, DType dtype) {
  OpAttrs attrs;
  attrs.mean = mean;
  attrs.stddev = stddev;
  return random(OpKind::kRandomNormal, shape, seed, dtype, attrs);
}

Tensor truncated_normal(const Shape& shape, uint64_t seed, double mean, double stddev, DType dtype) {
  OpAttrs attrs;
  attrs.mean = mean;
  attrs.stddev = stddev;
  return random(OpKind::kTruncatedNormal, shape, seed, dtype, attrs);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(OpKind::kAdd, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(OpKind::kSub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(OpKind::kMul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(OpKind::kDiv, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(OpKind::kPow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(OpKind::kMaximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(OpKind::kMinimum, a, b); }
Tensor equal(const Tensor& a, const Tensor& b) { return binary(OpKind::kEqual, a, b); }
Tensor not_equal(const Tensor& a, const Tensor& b) { return binary(OpKind::kNotEqual, a, b); }
Tensor less(const Tensor& a, const Tensor& b) { return binary(OpKind::kLess, a, b); }
Tensor less_equal(const Tensor& a, const Tensor& b) { return binary(OpKind::kLessEqual, a, b); }
Tensor greater(const Tensor& a, const Tensor& b) { return binary(OpKind::kGreater, a, b); }
Tensor greater_equal(const Tensor& a, const Tensor& b) { return binary(OpKind::kGreaterEqual, a, b); }
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return apply(OpKind::kWhere, {cond, a, b}); }

Tensor neg(const Tensor& x) { return unary(OpKind::kNeg, x); }
Tensor exp(const Tensor& x) { return unary(OpKind::kExp, x); }
Tensor log(const Tensor& x) { return unary(OpKind::kLog, x); }
Tensor sqrt(const Tensor& x) { return unary(OpKind::kSqrt, x); }
Tensor tanh(const Tensor& x) { return unary(OpKind::kTanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(OpKind::kSigmoid, x); }
Tensor relu(const Tensor& x) { return unary(OpKind::kRelu, x); }
Tensor abs(const Tensor& x) { return unary(OpKind::kAbs, x); }
Tensor square(const Tensor& x) { return unary(OpKind::kSquare, x); }
Tensor sign(const Tensor& x) { return unary(OpKind::kSign, x); }
Tensor stop_gradient(const Tensor& x) { return unary(OpKind::kStopGradient, x); }

Tensor cast(const Tensor& x, DType dtype) {
  OpAttrs attrs;
  attrs.dtype = dtype;
  return apply(OpKind::kCast, {x}, attrs);
}

Tensor sum(const Tensor& x, const Dims& axes, const ReduceOptions& options) {
  return apply(OpKind::kSum, {x}, reduce_attrs(axes, options.keepdims()));
}

Tensor mean(const Tensor& x, const Dims& axes, const ReduceOptions& options) {
  // An int64 mean would be a truncating division (mean of {1, 2} was 1) and
  // an empty one a division by zero; PyTorch refuses it too.
  GRAFT_CHECK_AS(DTypeError, is_floating(x.dtype()), "mean: expected a float32 or float64 tensor, got ",
                 dtype_name(x.dtype()), " of shape ", x.shape().to_string(),
                 "\n  help: cast(x, DType::kFloat64) first");
  Tensor total = sum(x, axes, options);
  int64_t count = total.numel() == 0 ? 0 : x.numel() / total.numel();
  return total / static_cast<double>(count);
}

Tensor max(const Tensor& x, const Dims& axes, const ReduceOptions& options) {
  return apply(OpKind::kMax, {x}, reduce_attrs(axes, options.keepdims()));
}

Tensor matmul(const Tensor& a, const Tensor& b, const MatmulOptions& options) {
  OpAttrs attrs;
  attrs.transpose_a = options.transpose_a();
  attrs.transpose_b = options.transpose_b();
  return apply(OpKind::kMatMul, {a, b}, attrs);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, OpKind activation) {
  OpAttrs attrs;
  attrs.activation = activation;
  if (b.defined()) return apply(OpKind::kLinear, {x, w, b}, attrs);
  return apply(OpKind::kLinear, {x, w}, attrs);
}

Tensor sgd_update(const Tensor& p, const Tensor& g, const Tensor& lr, const Tensor& momentum_buf,
                  const UpdateAttrs& attrs) {
  OpAttrs op_attrs;
  op_attrs.update = attrs;
  if (momentum_buf.defined()) return apply(OpKind::kSgdUpdate, {p, g, lr, momentum_buf}, op_attrs);
  return apply(OpKind::kSgdUpdate, {p, g, lr}, op_attrs);
}

Tensor adam_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& lr,
                   const Tensor& bias1, const Tensor& bias2, const UpdateAttrs& attrs) {
  OpAttrs op_attrs;
  op_attrs.update = attrs;
  return apply(OpKind::kAdamUpdate, {p, g, m, v, lr, bias1, bias2}, op_attrs);
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  OpAttrs attrs;
  attrs.shape = shape;
  return apply(OpKind::kReshape, {x}, attrs);
}

Tensor reshape(const Tensor& x, std::initializer_list<int64_t> dims) {
  int inferred = -1;
  int64_t known = 1;
  Dims resolved;
  for (int64_t d : dims) {
    if (d == -1) {
      GRAFT_CHECK_AS(ShapeError, inferred < 0, "reshape: at most one dimension can be -1");
      inferred = resolved.size();
      resolved.push_back(1);
    } else {
      GRAFT_CHECK_AS(ShapeError, d >= 0, "reshape: dimensions must be >= 0 or -1, got ", d);
      std::optional<int64_t> product = checked_mul(known, d);
      GRAFT_CHECK_AS(ShapeError, product.has_value(), "reshape: the dimensions ", Shape::dims_string(std::span<const int64_t>(dims.begin(), dims.size())),
                     " overflow int64 when multiplied");
      known = *product;
      resolved.push_back(d);
    }
  }
  if (inferred >= 0) {
    GRAFT_CHECK_AS(ShapeError, known > 0 && x.numel() % known == 0, "reshape: cannot infer the -1 dimension: ",
                   x.numel(), " elements of ", x.shape().to_string(), " do not divide by ", known);
    resolved[inferred] = x.numel() / known;
  }
  return reshape(x, Shape(resolved));
}

Tensor permute(const Tensor& x, const Dims& perm) {
  OpAttrs attrs;
  attrs.axes = perm;
  return apply(OpKind::kPermute, {x}, attrs);
}

Tensor transpose(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() >= 2, "transpose: expected a tensor of rank >= 2, got shape ",
                 x.shape().to_string());
  Dims perm;
  for (int i = 0; i < x.rank(); ++i) perm.push_back(i);
  std::swap(perm[x.rank() - 1], perm[x.rank() - 2]);
  return permute(x, perm);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OpAttrs attrs;
  attrs.shape = shape;
  return apply(OpKind::kBroadcastTo, {x}, attrs);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  GRAFT_CHECK_AS(ShapeError, x.rank() >= shape.rank(), "sum_to: cannot reduce shape ", x.shape().to_string(),
                 " to the larger rank of ", shape.to_string());
  int lead = x.rank() - shape.rank();
  Dims axes;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < lead) {
      axes.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      axes.push_back(i);
    } else {
      GRAFT_CHECK_AS(ShapeError, shape[i - lead] == x.shape()[i], "sum_to: shape ", x.shape().to_string(),
                     " does not broadcast from ", shape.to_string());
    }
  }
  Tensor reduced = axes.empty() ? x : sum(x, axes, ReduceOptions().keepdims(true));
  return reduced.shape() == shape ? reduced : reshape(reduced, shape);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  OpAttrs attrs;
  attrs.axis = axis;
  return apply(OpKind::kConcat, std::span<const Tensor>(xs), attrs);
}

Tensor slice(const Tensor& x, const Dims& begin, const Dims& end) {
  const std::string_view name = op_name(OpKind::kSlice);
  const Shape& shape = x.shape();
  GRAFT_CHECK_AS(ShapeError, begin.size() == end.size() && begin.size() <= shape.rank(), name, ": begin has ",
                 begin.size(), " entries and end ", end.size(), ", which do not fit a tensor of shape ",
                 shape.to_string(), "\n  help: give one begin and one end per leading axis");
  OpAttrs attrs;
  Dims extent;
  for (int d = 0; d < shape.rank(); ++d) {
    const bool given = d < begin.size();
    int64_t b = given ? begin[d] : 0;
    int64_t e = given ? end[d] : shape[d];
    if (b < 0) b += shape[d];
    if (e < 0) e += shape[d];
    GRAFT_CHECK_AS(ShapeError, 0 <= b && b <= e && e <= shape[d], name, ": axis ", d, " of shape ",
                   shape.to_string(), " cannot be sliced from ", begin[d], " to ", end[d],
                   " (expected 0 <= begin <= end <= ", shape[d], ", negatives counting from the end)");
    attrs.begin.push_back(b);
    extent.push_back(e - b);
  }
  attrs.shape = Shape(extent);
  return apply(OpKind::kSlice, {x}, attrs);
}

Tensor pad(const Tensor& x, const Dims& before, const Dims& after) {
  const Shape& shape = x.shape();
  GRAFT_CHECK_AS(ShapeError, before.size() == shape.rank() && after.size() == shape.rank(), op_name(OpKind::kPad),
                 ": expected ", shape.rank(), " entries in before and after for shape ", shape.to_string(),
                 ", got ", before.size(), " and ", after.size());
  OpAttrs attrs;
  Dims out;
  for (int d = 0; d < shape.rank(); ++d) {
    GRAFT_CHECK_AS(ShapeError, before[d] >= 0 && after[d] >= 0, op_name(OpKind::kPad), ": axis ", d,
                   " of shape ", shape.to_string(), " has negative padding ", before[d], ", ", after[d],
                   "\n  help: use slice() to cut a tensor down");
    // Checked: padding from a setting or a file may be hostile, and a wrapped
    // sum would be undefined behaviour and a wrong output shape.
    std::optional<int64_t> extent = checked_add(before[d], shape[d]);
    if (extent) extent = checked_add(*extent, after[d]);
    GRAFT_CHECK_AS(ShapeError, extent.has_value(), op_name(OpKind::kPad), ": axis ", d, " of shape ",
                   shape.to_string(), " padded by ", before[d], " and ", after[d],
                   " does not fit in a 64-bit dimension\n  help: check where the padding amounts come from");
    out.push_back(*extent);
  }
  attrs.begin = before;
  attrs.shape = Shape(out);
  return apply(OpKind::kPad, {x}, attrs);
}

Tensor gather(const Tensor& x, const Tensor& indices, int64_t axis) {
  OpAttrs attrs;
  attrs.axis = axis;
  return apply(OpKind::kGather, {x, indices}, attrs);
}

Tensor scatter_add(const Tensor& updates, const Tensor& indices, const Shape& shape, int64_t axis) {
  OpAttrs attrs;
  attrs.shape = shape;
  attrs.axis = axis;
  return apply(OpKind::kScatterAdd, {updates, indices}, attrs);
}

Tensor one_hot(const Tensor& indices, int64_t depth, DType dtype) {
  OpAttrs attrs;
  attrs.depth = depth;
  attrs.dtype = dtype;
  return apply(OpKind::kOneHot, {indices}, attrs);
}

Tensor softmax(const Tensor& x, int64_t axis) {
  OpAttrs attrs;
  attrs.axis = axis;
  return apply(OpKind::kSoftmax, {x}, attrs);
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  OpAttrs attrs;
  attrs.axis = axis;
  return apply(OpKind::kLogSoftmax, {x}, attrs);
}

Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  return apply(OpKind::kSparseSoftmaxCrossEntropy, {logits, labels});
}

Tensor lstm_sequence(const Tensor& xp, const Tensor& u, const Tensor& h0, const Tensor& c0) {
  GRAFT_CHECK_AS(ValueError, h0.defined() == c0.defined(), op_name(OpKind::kLstmSequence),
                 ": an initial state needs both h0 and c0, got only ", h0.defined() ? "h0" : "c0",
                 "\n  help: pass zeros for the other, or neither for the zero state");
  if (!h0.defined()) return apply(OpKind::kLstmSequence, {xp, u});
  return apply(OpKind::kLstmSequence, {xp, u, h0, c0});
}

Tensor lstm_sequence_grad(const Tensor& y, const Tensor& u, const Tensor& grad_y, const Tensor& c0) {
  if (!c0.defined()) return apply(OpKind::kLstmSequenceGrad, {y, u, grad_y});
  return apply(OpKind::kLstmSequenceGrad, {y, u, grad_y, c0});
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  GRAFT_CHECK_AS(ShapeError, prediction.shape() == target.shape(), "mse_loss: prediction has shape ",
                 prediction.shape().to_string(), " but target has shape ", target.shape().to_string(),
                 "\n  help: reshape the target to the prediction's shape; mse_loss does not broadcast");
  GRAFT_CHECK_AS(DTypeError, is_floating(prediction.dtype()), "mse_loss: expected float32 or float64 tensors, got ",
                 dtype_name(prediction.dtype()), "\n  help: cast(prediction, DType::kFloat32) and the target alike");
  return mean(square(prediction - target));
}

}  // namespace graft
