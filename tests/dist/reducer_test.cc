#include "graft/dist/reducer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../testing.h"
#include "dist_testing.h"
#include "graft/autodiff/tape.h"
#include "graft/dist/structure.h"
#include "graft/ops/ops.h"
#include "graft/trace/function.h"

namespace graft::dist {
namespace {

using test_util::error_text;

// Three variables; rank r's gradient for variable k holds (r + 1) * (k + 1 + i / 10).
struct Grads {
  VariableStore store{"m"};
  std::vector<Variable> vars;
  std::vector<std::optional<Tensor>> grads;

  explicit Grads(int rank) {
    vars = {store.root().variable("c", {5}), store.root().variable("a", {3}), store.root().variable("b", {2, 2})};
    for (size_t k = 0; k < vars.size(); ++k) grads.emplace_back(value(rank, k));
  }
  Tensor value(int rank, size_t k) const {
    std::vector<float> v;
    for (int64_t i = 0; i < vars[k].shape().numel(); ++i) {
      v.push_back(static_cast<float>((rank + 1) * (static_cast<double>(k) + 1 + i / 10.0)));
    }
    return Tensor::from_vector(v, vars[k].shape());
  }
  // The average over `ranks` ranks: ((ranks + 1) / 2) * value(0, k).
  Tensor expected(int ranks, size_t k) const { return value(0, k) * ((ranks + 1) / 2.0); }
};

void expect_near(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], 1e-5) << "element " << i;
}

TEST(GradientReducerTest, AveragesInPathOrderWhateverEachRanksListOrder) {
  Comm& comm = Comm::world();
  Grads g(comm.rank());
  std::vector<Variable> vars = g.vars;
  std::vector<std::optional<Tensor>> grads = g.grads;
  if (comm.rank() % 2 == 1) {  // another list order on odd ranks
    std::reverse(vars.begin(), vars.end());
    std::reverse(grads.begin(), grads.end());
  }
  // 24 bytes per bucket: a and b (12 + 16 bytes) cannot share one.
  GradientReducer reducer(comm, ReducerOptions().bucket_bytes(24));
  std::vector<std::optional<Tensor>> out = reducer.average(vars, grads);
  for (size_t i = 0; i < vars.size(); ++i) {
    size_t k = std::find(g.vars.begin(), g.vars.end(), vars[i]) - g.vars.begin();
    expect_near(*out[i], g.expected(comm.size(), k));
  }
  if (comm.size() > 1) {
    EXPECT_EQ(reducer.describe(), "bucket 0: 12 bytes float32: m/a\nbucket 1: 16 bytes float32: m/b\n"
                                  "bucket 2: 20 bytes float32: m/c\n");
  }
}

TEST(GradientReducerTest, SmallGradientsShareABucketAndMissingOnesStayMissing) {
  Comm& comm = Comm::world();
  Grads g(comm.rank());
  std::vector<std::optional<Tensor>> grads = g.grads;
  grads[2].reset();  // b has no gradient
  GradientReducer reducer(comm);
  std::vector<std::optional<Tensor>> out = reducer.average(g.vars, grads);
  EXPECT_FALSE(out[2].has_value());
  expect_near(*out[0], g.expected(comm.size(), 0));
  expect_near(*out[1], g.expected(comm.size(), 1));
  if (comm.size() > 1) {
    EXPECT_EQ(reducer.describe(), "bucket 0: 32 bytes float32: m/a m/c\n");
  }
}

TEST(GradientReducerTest, AResultStillHeldIsNeverOverwrittenByTheNextReduction) {
  Comm& comm = Comm::world();
  Grads g(comm.rank());
  GradientReducer reducer(comm);
  std::vector<std::optional<Tensor>> first = reducer.average(g.vars, g.grads);
  std::vector<std::optional<Tensor>> doubled;
  for (const auto& grad : g.grads) doubled.emplace_back(*grad * 2.0);
  std::vector<std::optional<Tensor>> second = reducer.average(g.vars, doubled);
  for (size_t k = 0; k < g.vars.size(); ++k) {
    expect_near(*first[k], g.expected(comm.size(), k));
    expect_near(*second[k], g.expected(comm.size(), k) * 2.0);
  }
  // Once let go, the buffer is reused, and the values are still right.
  first.clear();
  second.clear();
  for (int call = 0; call < 2; ++call) {
    std::vector<std::optional<Tensor>> again = reducer.average(g.vars, g.grads);
    for (size_t k = 0; k < g.vars.size(); ++k) expect_near(*again[k], g.expected(comm.size(), k));
  }
}

TEST(GradientReducerTest, AveragesAreExactInBothDTypesAndLeaveTheGradientsAlone) {
  // The gradients are divided by the rank count on their way into the bucket,
  // then summed: with a power-of-two rank count that is exactly the sum's
  // average (bit for bit with 2 ranks, where the sum has one order), the same
  // on every rank, and the caller's gradients are never written.
  Comm& comm = Comm::world();
  VariableStore store("m");
  std::vector<Variable> vars = {store.root().variable("f", {7}),
                                store.root().variable("d", {3, 2}, init::zeros(), VariableOptions().dtype(DType::kFloat64)),
                                store.root().variable("e", {4}, init::zeros(), VariableOptions().dtype(DType::kFloat64))};
  // Rank r's gradient: a seeded normal draw times (r + 1), so the average is the draw times (ranks + 1) / 2.
  auto draw = [&](size_t k, int rank) {
    Tensor t = dist_test::normal(vars[k].shape(), 10 + k) * (rank + 1.0);
    return vars[k].dtype() == DType::kFloat64 ? cast(t, DType::kFloat64) : t;
  };
  std::vector<std::optional<Tensor>> grads;
  std::vector<uint64_t> before;
  for (size_t k = 0; k < vars.size(); ++k) {
    grads.emplace_back(draw(k, comm.rank()));
    before.push_back(dist_test::bytes_hash(*grads[k]));
  }
  GradientReducer reducer(comm);
  std::vector<std::optional<Tensor>> out = reducer.average(vars, grads);
  for (size_t k = 0; k < vars.size(); ++k) {
    Tensor sum = draw(k, 0);
    for (int r = 1; r < comm.size(); ++r) sum = sum + draw(k, r);
    Tensor expected = sum * (1.0 / comm.size());
    ASSERT_EQ(out[k]->dtype(), vars[k].dtype()) << vars[k].path();
    if (comm.size() <= 2) {
      EXPECT_EQ(dist_test::bytes_hash(*out[k]), dist_test::bytes_hash(expected)) << vars[k].path();
    } else {
      std::vector<double> got = out[k]->to_vector<double>(), want = expected.to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << vars[k].path() << " " << i;
    }
    EXPECT_TRUE(dist_test::same_on_every_rank(comm, *out[k])) << vars[k].path();
    EXPECT_EQ(dist_test::bytes_hash(*grads[k]), before[k]) << vars[k].path() << " was written";
  }
  if (comm.size() > 1) {
    EXPECT_EQ(reducer.describe(), "bucket 0: 80 bytes float64: m/d m/e\nbucket 1: 28 bytes float32: m/f\n");
  }
}

TEST(GradientReducerTest, ACompiledStepAveragesAtEveryReplayAndRecapturesForANewPlan) {
  Comm& comm = Comm::world();
  Grads g(comm.rank());
  GradientReducer reducer(comm, ReducerOptions().bucket_bytes(24));
  // The gradient of sum(w * x) is x: a rank-dependent input makes rank-dependent gradients.
  auto step = graft::function([&](const Tensor& x) {
    GradientTape tape;
    Tensor loss = sum(g.vars[0] * x);
    std::vector<Variable> vars = {g.vars[0]};
    std::vector<std::optional<Tensor>> grads = reducer.average(vars, tape.gradient(loss, vars));
    return *grads[0];
  }, FunctionOptions().name("dp_grad"));
  for (int call = 0; call < 3; ++call) {
    Tensor x = full({5}, (comm.rank() + 1) * (call + 1.0));
    Tensor averaged = step(x);
    expect_near(averaged, full({5}, (comm.size() + 1) / 2.0 * (call + 1.0)));
  }
  EXPECT_EQ(step.captures(), 1);
}

TEST(GradientReducerTest, DifferentGradientListsFailOnEveryRankBeforeAnyReduction) {
  Comm& comm = Comm::world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  Grads g(comm.rank());
  std::vector<Variable> vars = g.vars;
  std::vector<std::optional<Tensor>> grads = g.grads;
  if (comm.rank() == 1) {
    vars.pop_back();
    grads.pop_back();
  }
  GradientReducer reducer(comm);
  std::string message = error_text<StructureError>([&] { reducer.average(vars, grads); });
  GRAFT_EXPECT_CONTAINS(message, "when planning the gradient buckets");
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'm/b'\n  rank 0: [2, 2] float32 trainable\n"
                                 "  rank 1: no such variable");
  EXPECT_TRUE(dist_test::same_text_on_every_rank(comm, message));
}

TEST(GradientReducerTest, BadArgumentsAreClearErrors) {
  Comm& comm = Comm::world();
  Grads g(comm.rank());
  GradientReducer reducer(comm);
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([&] { reducer.average(g.vars, {g.grads[0]}); }),
                        "3 variables but 1 gradients");
  std::vector<std::optional<Tensor>> wrong = g.grads;
  wrong[1] = zeros({4});
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { reducer.average(g.vars, wrong); }),
                        "the gradient for 'm/a' has shape [4], the variable [3]");
}

}  // namespace
}  // namespace graft::dist
