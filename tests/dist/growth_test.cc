// Data-parallel training with growth: the job on N ranks against one process
// on the global batch, growth as a collective step, and checkpoints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "../testing.h"
#include "dist_testing.h"
#include "graft/autodiff/tape.h"
#include "graft/dist/reducer.h"
#include "graft/dist/structure.h"
#include "graft/dist/sync.h"
#include "graft/edit/edit.h"
#include "graft/io/batches.h"
#include "graft/io/checkpoint.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/optim/sgd.h"
#include "graft/trace/function.h"

namespace graft::dist {
namespace {

using dist_test::normal;
using dist_test::same_on_every_rank;
using dist_test::same_text_on_every_rank;
using test_util::error_text;

edit::EditOptions edit_options(optim::Optimizer* optimizer, uint64_t seed = 0) {
  return edit::EditOptions().optimizer(optimizer).seed(seed);
}

constexpr int64_t kExamples = 64;
constexpr int64_t kGlobalBatch = 8;  // divisible by 1, 2 and 4 ranks

struct Data {
  Tensor x = normal({kExamples, 6}, 11);
  Tensor y;
  Data() {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < kExamples; ++i) labels.push_back((i * 7 + i / 5) % 3);
    y = Tensor::from_vector(labels);
  }
};

// One copy of the model and its optimizer, trained on `shard` of `shards` of
// each global batch (the whole batch with 1 of 1).
struct Trainer {
  nn::Sequential model{"mlp"};
  std::unique_ptr<optim::Optimizer> optimizer;
  io::BatchIterator batches;
  const Comm* comm;  // null: one process, no reduction
  GradientReducer* reducer;
  std::function<Tensor(const Tensor&, const Tensor&)> step;

  Trainer(const Data& data, const Comm* c, GradientReducer* r, bool adam, bool compiled, uint64_t init_seed = 3)
      : batches(data.x, data.y,
                io::BatchOptions(kGlobalBatch).seed(9).shard(c ? c->rank() : 0, c ? c->size() : 1).prefetch(false)),
        comm(c), reducer(r) {
    if (adam) {
      optimizer = std::make_unique<optim::Adam>(optim::AdamOptions(0.01));
    } else {
      optimizer = std::make_unique<optim::SGD>(optim::SGDOptions(0.2));
    }
    model.set_seed(init_seed);
    model.add(nn::Linear(nn::LinearOptions(5).activation(nn::Activation::kRelu)));
    model.add(nn::Linear(nn::LinearOptions(3)));
    model.build({1, 6});
    auto body = [this](const Tensor& x, const Tensor& y) {
      GradientTape tape;
      Tensor loss = mean(sparse_softmax_cross_entropy(model(x), y));
      std::vector<Variable> vars = model.trainable_variables();
      std::vector<std::optional<Tensor>> grads = tape.gradient(loss, vars);
      if (reducer != nullptr) grads = reducer->average(vars, grads);
      optimizer->apply_gradients(vars, grads);
      return loss;
    };
    if (compiled) {
      step = [f = std::make_shared<decltype(graft::function(body))>(graft::function(body))](
                 const Tensor& x, const Tensor& y) { return (*f)(x, y); };
    } else {
      step = body;
    }
  }

  void train(int steps) {
    for (int s = 0; s < steps; ++s) {
      io::Batch b = batches.next();
      step(b.inputs, b.labels);
    }
  }

  // The same edit on one process or as a collective step.
  void grow(bool widen_layer, int64_t units, uint64_t seed) {
    auto edit = [&] {
      if (widen_layer) {
        edit::widen(model, 0, units, edit_options(optimizer.get(), seed));
      } else {
        edit::deepen(model, 0, edit_options(optimizer.get()));
      }
    };
    if (comm == nullptr) {
      edit();
    } else {
      collective_growth(*comm, model.store(), optimizer.get(), "after growth", edit);
    }
  }

  std::vector<Variable> variables() const { return model.variables(); }
};

double max_difference(const std::vector<Variable>& a, const std::vector<Variable>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    EXPECT_EQ(a[i].path(), b[i].path());
    std::vector<float> va = a[i].value().to_vector<float>(), vb = b[i].value().to_vector<float>();
    EXPECT_EQ(va.size(), vb.size()) << a[i].path();
    for (size_t j = 0; j < va.size() && j < vb.size(); ++j) {
      m = std::max(m, static_cast<double>(std::abs(va[j] - vb[j])));
    }
  }
  return m;
}

// N ranks at per-rank batch 8 / N against one process at batch 8: SGD, 50
// steps, a widen after 15 and a deepen after 30.
void expect_data_parallel_matches_one_process(bool compiled) {
  Comm& comm = Comm::world();
  Data data;
  GradientReducer reducer(comm);
  // Every rank initialises differently; sync makes rank 0's values everyone's.
  Trainer dp(data, &comm, &reducer, /*adam=*/false, compiled, /*init_seed=*/3 + comm.rank());
  sync(comm, dp.model.store(), *dp.optimizer);
  Trainer single(data, nullptr, nullptr, /*adam=*/false, compiled);
  for (Trainer* t : {&dp, &single}) {
    t->train(15);
    t->grow(/*widen_layer=*/true, 9, /*seed=*/4);
    t->train(15);
    t->grow(/*widen_layer=*/false, 0, 0);
    t->train(20);
  }
  EXPECT_LT(max_difference(dp.variables(), single.variables()), 1e-5);
  EXPECT_EQ(dp.variables().size(), 6u);  // two widened layers and the inserted one
  const uint64_t hash = structure_hash(structure_of({&dp.model.store(), &dp.optimizer->store()}));
  std::vector<uint64_t> hashes = comm.allgather(hash);
  for (uint64_t h : hashes) EXPECT_EQ(h, hashes[0]);
  EXPECT_EQ(hash, structure_hash(structure_of({&single.model.store(), &single.optimizer->store()})));
  EXPECT_EQ(dp.optimizer->iterations(), 50);
  EXPECT_EQ(reducer.plans_built(), comm.size() > 1 ? 3 : 0);  // at start, after each growth event
}

TEST(DataParallelTest, EagerRanksMatchOneProcessOnTheGlobalBatchThroughWidenAndDeepen) {
  expect_data_parallel_matches_one_process(/*compiled=*/false);
}

TEST(DataParallelTest, CompiledRanksMatchOneProcessOnTheGlobalBatchThroughWidenAndDeepen) {
  expect_data_parallel_matches_one_process(/*compiled=*/true);
}

TEST(DataParallelTest, SyncCopiesRankZerosWeightsSlotsAndStepCount) {
  Comm& comm = Comm::world();
  Data data;
  Trainer t(data, nullptr, nullptr, /*adam=*/true, /*compiled=*/false, /*init_seed=*/comm.rank());
  t.train(1 + comm.rank());  // slots and step counts differ too
  sync(comm, t.model.store(), *t.optimizer, "at start");
  EXPECT_EQ(t.optimizer->iterations(), 1);
  for (const Variable& v : t.model.variables()) EXPECT_TRUE(same_on_every_rank(comm, v.value())) << v.path();
  for (const Variable& v : t.optimizer->store().variables()) {
    EXPECT_TRUE(same_on_every_rank(comm, v.value())) << v.path();
  }
}

TEST(DataParallelTest, AfterGrowthTheNewVariablesAdamSlotsAreIdenticalOnEveryRank) {
  Comm& comm = Comm::world();
  Data data;
  GradientReducer reducer(comm);
  Trainer t(data, &comm, &reducer, /*adam=*/true, /*compiled=*/true);
  sync(comm, t.model.store(), *t.optimizer);
  t.train(5);
  // Which units widen copies comes from rank 0's seed, whatever each rank passed.
  const uint64_t seed = shared_seed(comm, 100 + comm.rank());
  std::vector<std::string> created;
  created = collective_growth(comm, t.model.store(), t.optimizer.get(), "after growth event 1", [&] {
    edit::widen(t.model, 0, 8, edit_options(t.optimizer.get(), seed));
  });
  EXPECT_NE(std::find(created.begin(), created.end(), "adam/mlp/layer_0/kernel/m"), created.end());
  EXPECT_NE(std::find(created.begin(), created.end(), "mlp/layer_1/kernel"), created.end());
  t.train(3);
  auto kernel = t.model.store().find("mlp/layer_0/kernel");
  ASSERT_TRUE(kernel.has_value());
  std::vector<Variable> slots = t.optimizer->slots_of(*kernel);
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0].shape(), (Shape{6, 8}));
  for (const Variable& v : t.optimizer->store().variables()) {
    EXPECT_TRUE(same_on_every_rank(comm, v.value())) << v.path();
  }
  for (const Variable& v : t.model.variables()) EXPECT_TRUE(same_on_every_rank(comm, v.value())) << v.path();
}

TEST(DataParallelTest, ARankThatGrowsDifferentlyFailsEveryRankWithTheFirstDifferingPath) {
  Comm& comm = Comm::world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  Data data;
  GradientReducer reducer(comm);
  Trainer t(data, &comm, &reducer, /*adam=*/true, /*compiled=*/false);
  sync(comm, t.model.store(), *t.optimizer);
  t.train(2);
  const int64_t units = comm.rank() == 1 ? 7 : 9;
  std::string message = error_text<StructureError>([&] {
    collective_growth(comm, t.model.store(), t.optimizer.get(), "after growth event 1", [&] {
      edit::widen(t.model, 0, units, edit_options(t.optimizer.get(), 1));
    });
  });
  GRAFT_EXPECT_CONTAINS(message, "the ranks hold different models after growth event 1");
  // Sorted paths: the optimizer's slots ("adam/...") come before the model's.
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'adam/mlp/layer_0/bias/m'\n  rank 0: [9] float32 frozen\n"
                                 "  rank 1: [7] float32 frozen");
  EXPECT_TRUE(same_text_on_every_rank(comm, message));
}

TEST(DataParallelTest, AnEditThatThrowsOnOneRankThrowsOnEveryRank) {
  Comm& comm = Comm::world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  Data data;
  Trainer t(data, &comm, nullptr, /*adam=*/false, /*compiled=*/false);
  auto grow = [&] {
    collective_growth(comm, t.model.store(), t.optimizer.get(), "after growth event 1", [&] {
      if (comm.rank() == 1) throw ValueError("widen: no layer 5");
    });
  };
  if (comm.rank() == 1) {
    GRAFT_EXPECT_CONTAINS(error_text<ValueError>(grow), "widen: no layer 5");
  } else {
    GRAFT_EXPECT_CONTAINS(error_text<ValueError>(grow),
                          "dist: the growth step after growth event 1 failed on rank 1 (that rank printed its error)");
  }
}

// Rank 0's folder, on every rank.
std::string shared_temp_dir(const Comm& comm) {
  std::string dir;
  if (comm.is_root()) {
    char name[] = "/tmp/graft_dist_test_XXXXXX";
    GRAFT_INTERNAL_ASSERT(mkdtemp(name) != nullptr);
    dir = name;
  }
  return comm.allgather(dir)[0];
}

TEST(DataParallelTest, RankZeroWritesTheCheckpointAndEveryRankResumesFromIt) {
  Comm& comm = Comm::world();
  Data data;
  GradientReducer reducer(comm);
  Trainer t(data, &comm, &reducer, /*adam=*/true, /*compiled=*/false);
  sync(comm, t.model.store(), *t.optimizer);
  t.train(4);
  const std::string dir = shared_temp_dir(comm);
  const std::string path = dir + "/checkpoint.safetensors";
  save_checkpoint(comm, path, {&t.model.store(), &t.optimizer->store()}, {{"train.step", "4"}});
  comm.barrier();
  // A fresh model on every rank, differently initialised, restored from the file.
  Trainer resumed(data, &comm, &reducer, /*adam=*/true, /*compiled=*/false, /*init_seed=*/50 + comm.rank());
  io::CheckpointReport report = io::restore_checkpoint(path, {&resumed.model.store(), &resumed.optimizer->store()});
  EXPECT_EQ(report.metadata.at(kWorldSizeKey), std::to_string(comm.size()));
  EXPECT_EQ(report.metadata.at("train.step"), "4");
  EXPECT_LT(max_difference(resumed.variables(), t.variables()), 1e-12);
  comm.barrier();
  if (comm.is_root()) std::filesystem::remove_all(dir);
  // A folder rank 0 cannot write to fails on every rank.
  std::string message = error_text<Error>([&] {
    save_checkpoint(comm, "/proc/graft_no_such_dir/c.safetensors", {&t.model.store()});
  });
  GRAFT_EXPECT_CONTAINS(message, comm.is_root() ? "/proc/graft_no_such_dir" : "failed on rank 0");
}

}  // namespace
}  // namespace graft::dist
