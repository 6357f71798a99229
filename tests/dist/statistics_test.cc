// Running statistics under data parallelism: each rank's BatchNorm follows
// its own shard, and average_statistics makes every rank hold their average.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../testing.h"
#include "dist_testing.h"
#include "graft/dist/structure.h"
#include "graft/dist/sync.h"
#include "graft/nn/batch_norm.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"

namespace graft::dist {
namespace {

using dist_test::bytes_hash;
using dist_test::normal;
using dist_test::same_on_every_rank;
using test_util::error_text;

// The model's variable whose name is `name` (the first, in path order).
Variable find(nn::Sequential& model, std::string_view name) {
  for (const Variable& v : model.store().variables()) {
    if (v.name() == name) return v;
  }
  ADD_FAILURE() << "no variable named " << name;
  return {};
}

// Every rank's float32 values of `t`, by rank.
std::vector<std::vector<float>> gather(const Comm& comm, const Tensor& t) {
  std::string bytes(static_cast<const char*>(t.raw_data()), t.nbytes());
  std::vector<std::vector<float>> out;
  for (const std::string& rank_bytes : comm.allgather(bytes)) {
    std::vector<float> values(static_cast<size_t>(t.numel()));
    std::memcpy(values.data(), rank_bytes.data(), rank_bytes.size());
    out.push_back(values);
  }
  return out;
}

struct Model {
  nn::Sequential model{"cnn"};
  Variable frozen;

  explicit Model(const Comm& comm) {
    model.set_seed(2);
    model.add(nn::Linear(nn::LinearOptions(4)));
    model.add(nn::BatchNorm());
    model.build({1, 3});
    // Non-trainable, equal on every rank: must come through bit for bit.
    frozen = model.store().root().variable("frozen", {5}, init::zeros(), VariableOptions().trainable(false));
    frozen.assign(normal({5}, 7) * (1.0 / 3.0));
    sync(comm, {&model.store()});
    // One training-mode step on this rank's own data moves its statistics.
    model(normal({16, 3}, 100 + static_cast<uint64_t>(comm.rank())) * (1.0 + comm.rank()));
  }
};

TEST(RunningStatisticsTest, BatchNormStatisticsBecomeTheirAverageOverTheRanks) {
  Comm& comm = Comm::world();
  Model m(comm);
  Variable mean = find(m.model, "moving_mean"), variance = find(m.model, "moving_variance");
  Variable kernel = find(m.model, "kernel");
  // A trainable variable that (wrongly) differs is not this function's to fix.
  kernel.assign(kernel.raw_value() * (1.0 + comm.rank()));
  const uint64_t kernel_before = bytes_hash(kernel.raw_value()), frozen_before = bytes_hash(m.frozen.raw_value());
  const auto means = gather(comm, mean.raw_value()), variances = gather(comm, variance.raw_value());
  if (comm.size() > 1) {
    ASSERT_FALSE(same_on_every_rank(comm, mean.raw_value())) << "the ranks' statistics should differ before";
  }

  EXPECT_EQ(average_statistics(comm, m.model.store(), "before evaluation"), comm.size() > 1 ? 2u : 0u);

  for (const auto& [v, per_rank] : {std::pair{mean, means}, std::pair{variance, variances}}) {
    std::vector<float> got = v.raw_value().to_vector<float>();
    for (size_t i = 0; i < got.size(); ++i) {
      double want = 0;
      for (const std::vector<float>& r : per_rank) want += r[i] / static_cast<double>(per_rank.size());
      EXPECT_NEAR(got[i], want, 1e-6 * (1 + std::abs(want))) << v.path() << " element " << i;
    }
    EXPECT_TRUE(same_on_every_rank(comm, v.raw_value())) << v.path();
  }
  EXPECT_EQ(bytes_hash(m.frozen.raw_value()), frozen_before);
  EXPECT_EQ(bytes_hash(kernel.raw_value()), kernel_before);
  // Equal everywhere now: a second call averages nothing.
  EXPECT_EQ(average_statistics(comm, m.model.store(), "again"), 0u);
}

TEST(RunningStatisticsTest, RanksWithDifferentStatisticsVariablesFailTogether) {
  Comm& comm = Comm::world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  Model m(comm);
  if (comm.rank() == 1) {
    m.model.store().root().variable("extra", {2}, init::zeros(), VariableOptions().trainable(false));
  }
  std::string message = error_text<StructureError>([&] { average_statistics(comm, m.model.store(), "before saving"); });
  GRAFT_EXPECT_CONTAINS(message, "before saving");
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'cnn/extra'");
  EXPECT_TRUE(dist_test::same_text_on_every_rank(comm, message));
}

}  // namespace
}  // namespace graft::dist
