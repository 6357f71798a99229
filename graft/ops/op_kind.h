// graft/ops/op_kind.h: the primitive operations and their attributes.
//
// The primitive set is small on purpose (STYLE.md): softmax cross-entropy,
// mean squared error, LSTM gates and the like are compositions in ops.h unless
// a fused kernel is measurably faster. Adding an op: see graft/ops/README.md.
#pragma once

#include <cstdint>

#include "graft/tensor/dtype.h"
#include "graft/tensor/shape.h"

namespace graft {

enum class OpKind : uint16_t {
  // Creation (no inputs).
  kFill,
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
  // Shape.
  kReshape,
  kPermute,
  kBroadcastTo,
  kCount,
};

// Attributes of one op application. Each op reads the fields it documents in
// op_table.cc and ignores the rest.
struct OpAttrs {
  Shape shape;            // target shape: fill, reshape, broadcast_to
  Dims axes;              // reduction axes (empty: all), permutation
  double scalar = 0.0;    // fill value
  DType dtype = DType::kFloat32;  // fill and cast
  bool keepdims = false;  // reductions
  bool transpose_a = false;  // matmul
  bool transpose_b = false;  // matmul
};

}  // namespace graft
