// graft/ops/internal/elementwise_math.h: the scalar math of every elementwise
// op, written once (ATen's cpu_kernel idea, ggml's unary table).
//
// Each op is a small functor over scalars of one type T (float, double, and
// for the ops that allow it int64_t). The eager kernels (elementwise.cc) run
// it over whole tensors with broadcasting; the fused loops of a compiled graph
// (graft/trace/fusion.cc) run it over blocks of registers. visit_elementwise()
// is the one map from an OpKind to its functor, and an op is fusable exactly
// when it has one, so the two paths cannot disagree on what an op computes.
//
//   visit_elementwise(OpKind::kTanh, [&](auto math) {
//     if constexpr (decltype(math)::kArity == 1) {
//       for (int64_t j = 0; j < n; ++j) out[j] = math(in[j]);
//     }
//   });
//
// Not a public header.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "graft/base/check.h"
#include "graft/ops/op_kind.h"

namespace graft::ops::internal {

// What every functor states about its op: the kind it computes, how many
// operands it takes, and whether its inference admits floating point only
// (then it is never instantiated for int64_t).
template <OpKind Kind, int Arity, bool FloatingOnly = false>
struct ElementwiseTraits {
  static constexpr OpKind kKind = Kind;
  static constexpr int kArity = Arity;
  static constexpr bool kFloatingOnly = FloatingOnly;
};

// int64 arithmetic wraps modulo 2^64, as NumPy's and PyTorch's does: the
// integer forms below run in uint64, where a signed overflow (INT64_MAX + 1,
// -INT64_MIN) would be undefined behaviour. Floating point is untouched.
template <typename T> T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <typename T> T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  } else {
    return a - b;
  }
}
template <typename T> T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}

struct AddMath : ElementwiseTraits<OpKind::kAdd, 2> {
  template <typename T> T operator()(T a, T b) const { return wrapping_add(a, b); }
};
struct SubMath : ElementwiseTraits<OpKind::kSub, 2> {
  template <typename T> T operator()(T a, T b) const { return wrapping_sub(a, b); }
};
struct MulMath : ElementwiseTraits<OpKind::kMul, 2> {
  template <typename T> T operator()(T a, T b) const { return wrapping_mul(a, b); }
};
// Integer division by zero is checked by the eager kernel before it runs;
// fused loops are floating point only. INT64_MIN / -1 wraps to INT64_MIN
// (the hardware's idiv traps on it, killing the process).
struct DivMath : ElementwiseTraits<OpKind::kDiv, 2> {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == T(-1)) return wrapping_sub(T(0), a);
    }
    return a / b;
  }
};
struct PowMath : ElementwiseTraits<OpKind::kPow, 2, true> {
  template <typename T> T operator()(T a, T b) const { return static_cast<T>(std::pow(a, b)); }
};
// Ties pick the first operand (the VJPs send the gradient there too). A NaN
// in either operand is the result, as NumPy's maximum and max(): `a >= b`
// alone is false for a NaN a, so maximum(NaN, 1) was 1 and maximum(1, NaN)
// NaN. (a != a is false for integers and folds away.)
struct MaximumMath : ElementwiseTraits<OpKind::kMaximum, 2> {
  template <typename T> T operator()(T a, T b) const { return a >= b || a != a ? a : b; }
};
struct MinimumMath : ElementwiseTraits<OpKind::kMinimum, 2> {
  template <typename T> T operator()(T a, T b) const { return a <= b || a != a ? a : b; }
};
// Comparisons yield 1 or 0 in the operands' dtype.
struct EqualMath : ElementwiseTraits<OpKind::kEqual, 2> {
  template <typename T> T operator()(T a, T b) const { return a == b ? T(1) : T(0); }
};
struct NotEqualMath : ElementwiseTraits<OpKind::kNotEqual, 2> {
  template <typename T> T operator()(T a, T b) const { return a != b ? T(1) : T(0); }
};
struct LessMath : ElementwiseTraits<OpKind::kLess, 2> {
  template <typename T> T operator()(T a, T b) const { return a < b ? T(1) : T(0); }
};
struct LessEqualMath : ElementwiseTraits<OpKind::kLessEqual, 2> {
  template <typename T> T operator()(T a, T b) const { return a <= b ? T(1) : T(0); }
};
struct GreaterMath : ElementwiseTraits<OpKind::kGreater, 2> {
  template <typename T> T operator()(T a, T b) const { return a > b ? T(1) : T(0); }
};
struct GreaterEqualMath : ElementwiseTraits<OpKind::kGreaterEqual, 2> {
  template <typename T> T operator()(T a, T b) const { return a >= b ? T(1) : T(0); }
};
// The condition may have its own dtype in eager code; fused, it shares T.
struct WhereMath : ElementwiseTraits<OpKind::kWhere, 3> {
  template <typename C, typename T> T operator()(C cond, T a, T b) const { return cond != C(0) ? a : b; }
};
struct NegMath : ElementwiseTraits<OpKind::kNeg, 1> {
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) {
      return wrapping_sub(T(0), x);
    } else {
      return -x;
    }
  }
};
struct ExpMath : ElementwiseTraits<OpKind::kExp, 1, true> {
  template <typename T> T operator()(T x) const { return std::exp(x); }
};
struct LogMath : ElementwiseTraits<OpKind::kLog, 1, true> {
  template <typename T> T operator()(T x) const { return std::log(x); }
};
struct SqrtMath : ElementwiseTraits<OpKind::kSqrt, 1, true> {
  template <typename T> T operator()(T x) const { return std::sqrt(x); }
};
struct TanhMath : ElementwiseTraits<OpKind::kTanh, 1, true> {
  template <typename T> T operator()(T x) const { return std::tanh(x); }
};
// Stable on both sides: exp() only ever sees a non-positive argument.
struct SigmoidMath : ElementwiseTraits<OpKind::kSigmoid, 1, true> {
  template <typename T> T operator()(T x) const {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
  }
};
// NaN stays NaN, as in PyTorch and TensorFlow (`x > 0 ? x : 0` made it 0,
// hiding a diverged layer from every check downstream); same cost.
struct ReluMath : ElementwiseTraits<OpKind::kRelu, 1> {
  template <typename T> T operator()(T x) const { return x <= T(0) ? T(0) : x; }
};
struct AbsMath : ElementwiseTraits<OpKind::kAbs, 1> {
  template <typename T> T operator()(T x) const { return x < T(0) ? NegMath{}(x) : x; }
};
struct SquareMath : ElementwiseTraits<OpKind::kSquare, 1> {
  template <typename T> T operator()(T x) const { return wrapping_mul(x, x); }
};
struct SignMath : ElementwiseTraits<OpKind::kSign, 1> {
  template <typename T> T operator()(T x) const { return static_cast<T>((x > T(0)) - (x < T(0))); }
};

// Calls f(Math{}) with the functor of `kind` and returns true, or returns
// false for an op that is not elementwise math (creation, reductions, shape
// ops, and stop_gradient and cast, which move values without arithmetic).
// Every OpKind is listed, so -Wswitch flags a new one until it is placed.
template <typename F>
constexpr bool visit_elementwise(OpKind kind, F&& f) {
  switch (kind) {
    case OpKind::kAdd: f(AddMath{}); return true;
    case OpKind::kSub: f(SubMath{}); return true;
    case OpKind::kMul: f(MulMath{}); return true;
    case OpKind::kDiv: f(DivMath{}); return true;
    case OpKind::kPow: f(PowMath{}); return true;
    case OpKind::kMaximum: f(MaximumMath{}); return true;
    case OpKind::kMinimum: f(MinimumMath{}); return true;
    case OpKind::kEqual: f(EqualMath{}); return true;
    case OpKind::kNotEqual: f(NotEqualMath{}); return true;
    case OpKind::kLess: f(LessMath{}); return true;
    case OpKind::kLessEqual: f(LessEqualMath{}); return true;
    case OpKind::kGreater: f(GreaterMath{}); return true;
    case OpKind::kGreaterEqual: f(GreaterEqualMath{}); return true;
    case OpKind::kWhere: f(WhereMath{}); return true;
    case OpKind::kNeg: f(NegMath{}); return true;
    case OpKind::kExp: f(ExpMath{}); return true;
    case OpKind::kLog: f(LogMath{}); return true;
    case OpKind::kSqrt: f(SqrtMath{}); return true;
    case OpKind::kTanh: f(TanhMath{}); return true;
    case OpKind::kSigmoid: f(SigmoidMath{}); return true;
    case OpKind::kRelu: f(ReluMath{}); return true;
    case OpKind::kAbs: f(AbsMath{}); return true;
    case OpKind::kSquare: f(SquareMath{}); return true;
    case OpKind::kSign: f(SignMath{}); return true;
    case OpKind::kFill:
    case OpKind::kArange:
    case OpKind::kRandomUniform:
    case OpKind::kRandomNormal:
    case OpKind::kTruncatedNormal:
    case OpKind::kStopGradient:
    case OpKind::kCast:
    case OpKind::kSum:
    case OpKind::kMax:
    case OpKind::kMatMul:
    case OpKind::kLinear:
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kBroadcastTo:
    case OpKind::kConcat:
    case OpKind::kSlice:
    case OpKind::kPad:
    case OpKind::kGather:
    case OpKind::kScatterAdd:
    case OpKind::kOneHot:
    case OpKind::kSoftmax:
    case OpKind::kLogSoftmax:
    case OpKind::kSparseSoftmaxCrossEntropy:
    case OpKind::kLstmSequence:
    case OpKind::kLstmSequenceGrad:
    case OpKind::kConv2d:
    case OpKind::kConv2dGradInput:
    case OpKind::kConv2dGradWeight:
    case OpKind::kMaxPool2d:
    case OpKind::kMaxPool2dGrad:
    case OpKind::kAvgPool2d:
    case OpKind::kAvgPool2dGrad:
    case OpKind::kBatchNormStats:
    case OpKind::kBatchNorm:
    case OpKind::kBatchNormSums:
    case OpKind::kBatchNormGradInput:
    case OpKind::kSgdUpdate:
    case OpKind::kAdamUpdate:
    case OpKind::kCount:
      return false;
  }
  GRAFT_INTERNAL_ASSERT(false, "op kind ", static_cast<int>(kind), " is not an OpKind");
  return false;
}

// Whether `kind` has elementwise math (and so can join a fused loop).
constexpr bool has_elementwise_math(OpKind kind) {
  return visit_elementwise(kind, [](auto) {});
}

}  // namespace graft::ops::internal
