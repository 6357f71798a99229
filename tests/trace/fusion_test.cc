// Fused loops against the eager kernels, op by op: both run the scalar math
// of graft/ops/internal/elementwise_math.h, so every fusable op must give the
// eager values and gradients in a compiled step.
#include "graft/trace/internal/fusion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "graft/autodiff/tape.h"
#include "graft/ops/dispatch.h"
#include "graft/ops/ops.h"
#include "graft/trace/function.h"
#include "tests/testing.h"

namespace graft {
namespace {

// Values on quarter steps (so comparisons meet ties), never zero (a divisor),
// positive where the op needs it (log, sqrt, pow's base).
Tensor operand(const Shape& shape, DType dtype, int seed, bool positive) {
  std::vector<double> values(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    double v = static_cast<double>(static_cast<int64_t>(i * (7 + 2 * seed) + 3 * seed) % 11 - 5) * 0.25 + 0.125;
    values[i] = positive ? std::abs(v) + 0.25 : v;
  }
  return cast(Tensor::from_vector<double>(values, shape), dtype);
}

// The op between elementwise neighbours, so it lands inside a fused group:
// (c?), a * 2 and b in; y = op(...); out = y * (a * 2) + y. The tape's
// backward pass is captured too, with its own elementwise chains.
std::vector<Tensor> step(OpKind kind, const Tensor& c, const Tensor& a, const Tensor& b, bool with_grad) {
  GradientTape tape;
  tape.watch(a);
  tape.watch(b);
  Tensor pa = a * 2.0;
  int arity = op_def(kind).arity;
  Tensor y = arity == 1 ? apply(kind, {pa}) : arity == 2 ? apply(kind, {pa, b}) : apply(kind, {c, pa, b});
  Tensor out = y * pa + y;
  if (!with_grad) return {out};
  auto grads = tape.gradient(sum(out * pa), {a, b});
  return {out, *grads[0], grads[1] ? *grads[1] : zeros_like(b)};
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double tol = got.dtype() == DType::kFloat64 ? 1e-12 : 1e-6;
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << what << " element " << i;
  }
}

struct Layout {
  const char* name;
  Shape a;
  Shape b;
};

TEST(FusionTest, EveryFusableOpGivesTheEagerValuesAndGradients) {
  const Layout layouts[] = {
      {"same odd shape across blocks", {5, 53}, {5, 53}},
      {"a broadcast row", {5, 53}, {53}},
      {"a scalar", {3, 7}, {1}},
      {"a row with leading ones, split across threads", {257, 257}, {1, 257}},
  };
  int tested = 0;
  for (int k = 0; k < static_cast<int>(OpKind::kCount); ++k) {
    auto kind = static_cast<OpKind>(k);
    if (!trace::internal::fusable(kind)) continue;
    ++tested;
    bool positive = kind == OpKind::kLog || kind == OpKind::kSqrt || kind == OpKind::kPow;
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (const Layout& layout : layouts) {
        std::string what = std::string(op_name(kind)) + " " + std::string(dtype_name(dtype)) + ", " + layout.name;
        Tensor c = greater(operand(layout.a, dtype, 2, false), zeros({}, dtype));
        Tensor a = operand(layout.a, dtype, 0, positive);
        Tensor b = operand(layout.b, dtype, 1, positive);

        auto forward = function([&](const Tensor& cond, const Tensor& x, const Tensor& z) {
          return step(kind, cond, x, z, false);
        });
        std::vector<Tensor> eager = step(kind, c, a, b, false);
        forward(c, a, b);
        expect_close(forward(c, a, b)[0], eager[0], what);  // a replay
        // The op is in the one loop with its neighbours: a * 2, y * pa, + y.
        EXPECT_EQ(forward.stats().fused_groups, 1u) << what;
        EXPECT_EQ(forward.stats().fused_nodes, 4u) << what;

        auto train = function([&](const Tensor& cond, const Tensor& x, const Tensor& z) {
          return step(kind, cond, x, z, true);
        });
        std::vector<Tensor> want = step(kind, c, a, b, true);
        train(c, a, b);
        std::vector<Tensor> got = train(c, a, b);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], what + ", output " + std::to_string(i));
        EXPECT_GE(train.stats().fused_groups, 1u) << what;
      }
    }
  }
  EXPECT_GE(tested, 24);  // add .. sign, as of this test
}

// fusable() derives from the elementwise math: an op with a functor fuses, and
// one without (a reduction, a shape op, cast) never does.
TEST(FusionTest, TheFusableOpsAreExactlyThoseWithElementwiseMath) {
  for (OpKind kind : {OpKind::kAdd, OpKind::kWhere, OpKind::kSigmoid, OpKind::kSign}) {
    EXPECT_TRUE(trace::internal::fusable(kind)) << op_name(kind);
  }
  for (OpKind kind : {OpKind::kSum, OpKind::kMatMul, OpKind::kCast, OpKind::kStopGradient, OpKind::kReshape,
                      OpKind::kSoftmax, OpKind::kFill}) {
    EXPECT_FALSE(trace::internal::fusable(kind)) << op_name(kind);
  }
}

// A group that runs one instruction of `kind` on one input of `dtype`.
trace::internal::FusedGroup one_instruction(OpKind kind, DType dtype) {
  using trace::internal::InputMode;
  trace::internal::FusedGroup group;
  group.meta = {Shape({4}), dtype};
  group.inputs = {{0, InputMode::kFull, 0}};
  group.program = {{kind, 0, {{true, 0}, {true, 0}, {true, 0}}, 1}};
  group.registers = 1;
  group.outputs = {{0, 1}};
  return group;
}

// An op without elementwise math that reaches a fused loop is a bug: it
// must say so, not leave its output unwritten (the old `default: break`).
TEST(FusionTest, AnInstructionWithoutElementwiseMathIsAnInternalError) {
  Tensor in = Tensor::from_vector<float>({1, 2, 3, 4});
  Tensor out = zeros({4});
  std::string what = test_util::error_text<InternalError>([&] {
    trace::internal::run_fused(one_instruction(OpKind::kSum, DType::kFloat32), {&in, 1}, {&out, 1});
  });
  GRAFT_EXPECT_CONTAINS(what, "op 'sum' is in a fused group but has no elementwise math");
}

// Fused loops are floating point only; an int64 group is a bug, never a
// loop that reads int64 bytes as float.
TEST(FusionTest, AnIntegerGroupIsAnInternalErrorNotAFloatLoop) {
  Tensor in = Tensor::from_vector<int64_t>({1, 2, 3, 4});
  Tensor out = Tensor::empty({4}, DType::kInt64);
  std::string what = test_util::error_text<InternalError>([&] {
    trace::internal::run_fused(one_instruction(OpKind::kNeg, DType::kInt64), {&in, 1}, {&out, 1});
  });
  GRAFT_EXPECT_CONTAINS(what, "a fused loop ran on int64; it admits float32 and float64 only");
}

// The eager path keeps running the same functors: a spot check by value.
TEST(FusionTest, TheNegInstructionRunsTheSharedMath) {
  Tensor in = Tensor::from_vector<double>({1, -2, 3, -4});
  Tensor out = Tensor::empty({4}, DType::kFloat64);
  trace::internal::run_fused(one_instruction(OpKind::kNeg, DType::kFloat64), {&in, 1}, {&out, 1});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{-1, 2, -3, 4}));
  EXPECT_EQ(neg(in).to_vector<double>(), out.to_vector<double>());
}

}  // namespace
}  // namespace graft
