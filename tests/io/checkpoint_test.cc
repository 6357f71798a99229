// Checkpoints of whole stores: round trip by name after the creation order
// changed, the restore report and strict errors, a transform hook that pads
// a widened kernel and its Adam slots, restore-on-create into an unbuilt
// module, bad files, and a save killed midway.
#include "graft/io/checkpoint.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/io/internal/save_hook.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "tests/io/test_util.h"
#include "tests/testing.h"

namespace graft::io {
namespace {

using testing::TempDir;

using graft::test_util::error_text;

Tensor batch_x(int64_t rows, int64_t cols) {
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 11) / 11.0f - 0.4f;
  return Tensor::from_vector(v, Shape{rows, cols});
}

Tensor batch_y(int64_t rows, int64_t classes) {
  std::vector<int64_t> v(static_cast<size_t>(rows));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i) % classes;
  return Tensor::from_vector(v, Shape{rows});
}

void train_steps(nn::Sequential& model, optim::Optimizer& opt, int steps, int64_t in = 4, int64_t classes = 3) {
  for (int i = 0; i < steps; ++i) {
    GradientTape tape;
    Tensor loss = mean(sparse_softmax_cross_entropy(model(batch_x(8, in)), batch_y(8, classes)));
    std::vector<Variable> vars = model.trainable_variables();
    opt.apply_gradients(vars, tape.gradient(loss, vars));
  }
}

// path -> values, of every variable of `store`.
std::map<std::string, std::vector<float>> values_of(const VariableStore& store) {
  std::map<std::string, std::vector<float>> out;
  for (const Variable& v : store.variables()) out[v.path()] = v.raw_value().to_vector<float>();
  return out;
}

// Zero-pads a 1-D or 2-D `saved` into `target`'s shape (top-left block);
// scalars and equal shapes pass through.
std::optional<Tensor> pad_into(std::string_view, const Tensor& saved, const Tensor& target) {
  if (saved.rank() != target.rank() || saved.rank() == 0 || saved.rank() > 2) return std::nullopt;
  const int64_t rows = saved.rank() == 2 ? saved.shape()[0] : 1, cols = saved.shape()[saved.rank() - 1];
  const int64_t trows = target.rank() == 2 ? target.shape()[0] : 1, tcols = target.shape()[target.rank() - 1];
  if (rows > trows || cols > tcols) return std::nullopt;
  std::vector<float> out(static_cast<size_t>(trows * tcols), 0.0f);
  std::vector<float> in = saved.to_vector<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * tcols + c)] = in[static_cast<size_t>(r * cols + c)];
  }
  return Tensor::from_vector(out, target.shape());
}

TEST(CreateListenerTest, SeesKeyedAndUnkeyedCreationAndMayAssign) {
  VariableStore store("s");
  std::vector<std::string> seen;
  VariableStore::ListenerId first = store.add_create_listener([&](const Variable& v) {
    seen.push_back(v.path());
    v.raw_value().copy_from(full(v.shape(), 7.0));
  });
  Variable a = store.root().variable("a", {2});
  Variable again = store.root().variable("a", {2});  // found, not created: no call
  {
    VariableScope scope(store.root());
    Variable b(zeros(Shape{1}), "b");
    EXPECT_EQ(b.raw_value().to_vector<float>(), std::vector<float>{7.0f});
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"s/a", "s/b"}));
  EXPECT_EQ(a.raw_value().to_vector<float>(), (std::vector<float>{7.0f, 7.0f}));
  EXPECT_TRUE(store.remove_create_listener(first));
  EXPECT_FALSE(store.remove_create_listener(first));
  VariableStore::ListenerId refuse =
      store.add_create_listener([](const Variable& v) { throw ValueError("listener refused " + v.path()); });
  EXPECT_NE(error_text<ValueError>([&] { store.root().variable("c", {1}); }).find("listener refused s/c"),
            std::string::npos);
  EXPECT_TRUE(store.find("s/c").has_value());  // created before the listener ran
  store.remove_create_listener(refuse);
  store.root().variable("d", {1});
  EXPECT_EQ(seen.size(), 2u);  // the removed listener saw neither
}

TEST(CreateListenerTest, ListenersAddUpInOrderAndAreRemovedOneByOne) {
  VariableStore store("s");
  std::vector<std::string> calls;
  VariableStore::ListenerId a = store.add_create_listener([&](const Variable& v) { calls.push_back("a " + v.path()); });
  VariableStore::ListenerId b = store.add_create_listener([&](const Variable& v) { calls.push_back("b " + v.path()); });
  store.root().variable("x", {1});
  EXPECT_EQ(calls, (std::vector<std::string>{"a s/x", "b s/x"}));
  store.remove_create_listener(a);
  store.root().variable("y", {1});
  EXPECT_EQ(calls.back(), "b s/y");
  EXPECT_EQ(calls.size(), 3u);
  store.remove_create_listener(b);
  EXPECT_THROW(store.add_create_listener(nullptr), ValueError);
}

TEST(CheckpointTest, RestoresEveryVariableAndSlotByPathWhateverTheOrder) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  auto make = [](bool reversed) {
    auto m = std::make_unique<nn::Sequential>("mlp");
    if (!reversed) {
      m->add(nn::Linear(nn::LinearOptions(4).activation(nn::Activation::kRelu)));  // layer_0 at 0
      m->add(nn::Linear(nn::LinearOptions(4)));                                    // layer_1 at 1
    } else {
      m->add(nn::Linear(nn::LinearOptions(4)));                                        // layer_0 at 1
      m->insert(0, nn::Linear(nn::LinearOptions(4).activation(nn::Activation::kRelu)));  // layer_1 at 0
    }
    m->set_seed(reversed ? 99 : 1);
    return m;
  };
  auto model = make(false);
  optim::Adam adam(optim::AdamOptions(0.01));
  train_steps(*model, adam, 3, 4, 4);
  save_checkpoint(path, {&model->store(), &adam.store()}, {{"train.iterations", std::to_string(adam.iterations())}});
  const auto saved_model = values_of(model->store());
  const auto saved_adam = values_of(adam.store());
  ASSERT_EQ(saved_adam.count("adam/mlp/layer_0/kernel/m"), 1u);

  auto other = make(true);
  other->build(Shape{1, 4});
  ASSERT_EQ(other->variables()[0].path(), "mlp/layer_1/kernel");  // the order changed
  optim::Adam adam2(optim::AdamOptions(0.01));
  train_steps(*other, adam2, 1, 4, 4);
  ASSERT_NE(values_of(other->store()), saved_model);

  CheckpointReport report = restore_checkpoint(path, {&other->store(), &adam2.store()}, CheckpointOptions().strict(true));
  EXPECT_TRUE(report.restore.all_matched()) << report.to_string();
  EXPECT_EQ(report.restore.entries.size(), saved_model.size() + saved_adam.size());
  EXPECT_EQ(values_of(other->store()), saved_model);
  EXPECT_EQ(values_of(adam2.store()), saved_adam);
  EXPECT_EQ(report.metadata.at("graft.stores"), "mlp,adam");
  EXPECT_EQ(report.metadata.at("train.iterations"), "3");
}

TEST(CheckpointTest, ReportsMissingUnexpectedAndMismatchAndStrictListsThemAll) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  {
    VariableStore store("m");
    store.root().variable("a", {2, 3}, init::constant(1.0));
    store.root().variable("b", {4}, init::constant(2.0));
    store.root().variable("old", {1}, init::constant(3.0));
    VariableStore elsewhere("sgd");
    elsewhere.root().variable("x", {1});
    save_checkpoint(path, {&store, &elsewhere});
  }
  VariableStore store("m");
  Variable a = store.root().variable("a", {2, 3});
  Variable b = store.root().variable("b", {5});
  Variable c = store.root().variable("c", {2});

  const std::string strict = error_text<IoError>(
      [&] { restore_checkpoint(path, {&store}, CheckpointOptions().strict(true).defer(false)); });
  for (const char* want : {"ckpt.safetensors: strict restore failed: 1 matched, 1 missing, 1 unexpected, 1 shape mismatch; "
                           "nothing was restored",
                           "missing: 'm/c' [2] F32 has no key in the file",
                           "unexpected: key 'm/old' [1] F32 has no target",
                           "shape mismatch: 'm/b': file [4], target [5]", "help: restore without strict mode"}) {
    EXPECT_NE(strict.find(want), std::string::npos) << want << "\n" << strict;
  }
  // sgd/x belongs to the file's other store, which was not asked for.
  EXPECT_EQ(strict.find("sgd/x"), std::string::npos) << strict;
  EXPECT_EQ(a.raw_value().to_vector<float>(), std::vector<float>(6, 0.0f));  // nothing written

  CheckpointReport report = restore_checkpoint(path, {&store}, CheckpointOptions().defer(false));
  EXPECT_EQ(report.restore.count(RestoreStatus::kMatched), 1u);
  EXPECT_EQ(report.restore.count(RestoreStatus::kMissing), 1u);
  EXPECT_EQ(report.restore.count(RestoreStatus::kUnexpected), 1u);
  EXPECT_EQ(report.other_stores, std::vector<std::string>{"sgd/x"});
  EXPECT_NE(report.to_string().find("not restored: 1 keys of the file's other stores ('sgd')"), std::string::npos)
      << report.to_string();
  EXPECT_EQ(report.restore.count(RestoreStatus::kShapeMismatch), 1u);
  EXPECT_EQ(a.raw_value().to_vector<float>(), std::vector<float>(6, 1.0f));
  EXPECT_EQ(b.raw_value().to_vector<float>(), std::vector<float>(5, 0.0f));

  // With defer (the default) m/old waits for its variable; sgd/x belongs to
  // a store not being restored.
  report = restore_checkpoint(path, {&store});
  EXPECT_EQ(report.deferred, std::vector<std::string>{"m/old"});
  EXPECT_EQ(report.restore.count(RestoreStatus::kUnexpected), 0u);
  EXPECT_EQ(report.other_stores, std::vector<std::string>{"sgd/x"});
  EXPECT_NE(report.to_string().find("deferred: 'm/old' waits for its variable"), std::string::npos);
  EXPECT_EQ(pending_restores(store), std::vector<std::string>{"m/old"});
  Variable old = store.root().variable("old", {1});
  EXPECT_EQ(old.raw_value().to_vector<float>(), std::vector<float>{3.0f});
  EXPECT_TRUE(pending_restores(store).empty());
  ASSERT_EQ(deferred_report(store).entries.size(), 1u);
  EXPECT_EQ(deferred_report(store).entries[0].status, RestoreStatus::kMatched);
}

TEST(CheckpointTest, TransformHookPadsAWidenedKernelAndItsAdamSlots) {
  TempDir dir;
  const std::string path = dir.file("small.safetensors");
  nn::Sequential small("mlp");
  small.add(nn::Linear(nn::LinearOptions(3).activation(nn::Activation::kRelu)));
  small.add(nn::Linear(nn::LinearOptions(2)));
  optim::Adam adam(optim::AdamOptions(0.01));
  train_steps(small, adam, 2, 4, 2);
  save_checkpoint(path, {&small.store(), &adam.store()});
  const auto saved = values_of(small.store());
  const auto saved_adam = values_of(adam.store());

  nn::Sequential big("mlp");
  big.add(nn::Linear(nn::LinearOptions(5).activation(nn::Activation::kRelu)));  // widened 3 -> 5
  big.add(nn::Linear(nn::LinearOptions(2)));
  big.build(Shape{1, 4});
  optim::Adam adam2(optim::AdamOptions(0.01));
  train_steps(big, adam2, 1, 4, 2);

  // Without the hook the widened tensors are mismatches, in strict mode an error.
  EXPECT_NE(error_text<IoError>([&] { restore_checkpoint(path, {&big.store(), &adam2.store()}, CheckpointOptions().strict(true)); })
                .find("shape mismatch: 'mlp/layer_0/kernel': file [4, 3], target [4, 5]"),
            std::string::npos);
  CheckpointReport report =
      restore_checkpoint(path, {&big.store(), &adam2.store()}, CheckpointOptions().strict(true).transform(pad_into));
  EXPECT_TRUE(report.restore.all_matched()) << report.to_string();
  size_t transformed = 0;
  for (const RestoreEntry& e : report.restore.entries) transformed += e.transformed ? 1 : 0;
  // kernel 0, bias 0, kernel 1, each with m and v.
  EXPECT_EQ(transformed, 9u) << report.to_string();

  std::vector<float> k = big.store().find("mlp/layer_0/kernel")->raw_value().to_vector<float>();
  const std::vector<float>& k_small = saved.at("mlp/layer_0/kernel");
  std::vector<float> m = adam2.store().find("adam/mlp/layer_1/kernel/v")->raw_value().to_vector<float>();
  const std::vector<float>& m_small = saved_adam.at("adam/mlp/layer_1/kernel/v");
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 5; ++c) EXPECT_EQ(k[r * 5 + c], c < 3 ? k_small[r * 3 + c] : 0.0f) << r << "," << c;
  }
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 2; ++c) EXPECT_EQ(m[r * 2 + c], r < 3 ? m_small[r * 2 + c] : 0.0f) << r << "," << c;
  }
  EXPECT_EQ(adam2.store().find("adam/mlp/layer_0/kernel/step")->raw_value().to_vector<float>(),
            saved_adam.at("adam/mlp/layer_0/kernel/step"));
}

TEST(CheckpointTest, RestoreBeforeBuildWaitsForTheVariablesAndTheSlots) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  auto make = [] {
    auto m = std::make_unique<nn::Sequential>("mlp");
    m->add(nn::Linear(nn::LinearOptions(4).activation(nn::Activation::kRelu)));
    m->add(nn::Linear(nn::LinearOptions(3)));
    return m;
  };
  auto model = make();
  optim::Adam adam(optim::AdamOptions(0.01));
  train_steps(*model, adam, 2);
  save_checkpoint(path, {&model->store(), &adam.store()});
  const auto saved = values_of(model->store());

  // Restore, then build: the same values as build, then restore.
  auto late = make();
  optim::Adam adam_late(optim::AdamOptions(0.01));
  late->set_seed(5);
  CheckpointReport report = restore_checkpoint(path, {&late->store(), &adam_late.store()}, CheckpointOptions().strict(true));
  EXPECT_EQ(report.deferred.size(), saved.size() + 3 * saved.size());  // variables, then m, v, step of each
  EXPECT_EQ(report.restore.count(RestoreStatus::kMatched), 1u);        // adam/learning_rate exists already
  EXPECT_FALSE(late->built());
  late->build(Shape{1, 4});
  EXPECT_EQ(values_of(late->store()), saved);
  EXPECT_EQ(pending_restores(late->store()).size(), 0u);
  EXPECT_EQ(pending_restores(adam_late.store()).size(), 3 * saved.size());

  // The slots are restored when the first update creates them: the next step
  // matches the original optimizer's next step exactly.
  train_steps(*model, adam, 1);
  train_steps(*late, adam_late, 1);
  EXPECT_TRUE(pending_restores(adam_late.store()).empty());
  RestoreReport slots = deferred_report(adam_late.store());
  EXPECT_EQ(slots.count(RestoreStatus::kMatched), 3 * saved.size()) << slots.to_string();
  EXPECT_EQ(values_of(late->store()), values_of(model->store()));
  EXPECT_EQ(values_of(adam_late.store()), values_of(adam.store()));
}

TEST(CheckpointTest, DeferredShapeMismatchWarnsOrThrowsInStrictMode) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  {
    VariableStore store("m");
    store.root().variable("w", {3}, init::constant(1.0));
    save_checkpoint(path, {&store});
  }
  VariableStore loose("m");
  restore_checkpoint(path, {&loose});
  Variable w = loose.root().variable("w", {4});
  EXPECT_EQ(w.raw_value().to_vector<float>(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(deferred_report(loose).count(RestoreStatus::kShapeMismatch), 1u);

  VariableStore strict("m");
  restore_checkpoint(path, {&strict}, CheckpointOptions().strict(true));
  EXPECT_NE(error_text<IoError>([&] { strict.root().variable("w", {4}); })
                .find("deferred restore of 'm/w' into the new variable 'm/w' failed: shape mismatch: file [3], target [4]; "
                      "the variable keeps its initial value"),
            std::string::npos);
  cancel_pending_restores(strict);
  strict.root().variable("v", {1});
}

// A file with one saved variable, m/w = [5, 5].
std::string saved_w(const TempDir& dir) {
  const std::string path = dir.file("w.safetensors");
  VariableStore store("m");
  store.root().variable("w", {2}, init::constant(5.0));
  save_checkpoint(path, {&store});
  return path;
}

TEST(CheckpointTest, AListenerAddedAfterARestoreKeepsThePendingRestore) {
  TempDir dir;
  const std::string path = saved_w(dir);
  VariableStore store("m");
  restore_checkpoint(path, {&store});
  std::vector<std::string> seen;
  VariableStore::ListenerId mine = store.add_create_listener([&](const Variable& v) { seen.push_back(v.path()); });
  Variable w = store.root().variable("w", {2});
  EXPECT_EQ(w.raw_value().to_vector<float>(), (std::vector<float>{5, 5}));  // restored, not cancelled
  EXPECT_EQ(seen, std::vector<std::string>{"m/w"});
  EXPECT_TRUE(pending_restores(store).empty());
  store.remove_create_listener(mine);
}

TEST(CheckpointTest, AListenerAddedBeforeARestoreStaysAndTheRestoreWorks) {
  TempDir dir;
  const std::string path = saved_w(dir);
  VariableStore store("m");
  std::vector<std::string> seen;
  store.add_create_listener([&](const Variable& v) { seen.push_back(v.path()); });
  restore_checkpoint(path, {&store});
  Variable w = store.root().variable("w", {2});
  EXPECT_EQ(w.raw_value().to_vector<float>(), (std::vector<float>{5, 5}));
  EXPECT_EQ(seen, std::vector<std::string>{"m/w"});  // not replaced by the restore's listener
  // Cancelling pending restores removes only the checkpoint layer's listener.
  restore_checkpoint(path, {&store});  // nothing pending: m/w exists
  cancel_pending_restores(store);
  store.root().variable("v", {1});
  EXPECT_EQ(seen, (std::vector<std::string>{"m/w", "m/v"}));
}

TEST(CheckpointTest, PendingRestoresBelongToTheirStore) {
  TempDir dir;
  const std::string path = saved_w(dir);
  auto first = std::make_unique<VariableStore>("m");
  restore_checkpoint(path, {first.get()});
  EXPECT_EQ(pending_restores(*first), std::vector<std::string>{"m/w"});
  first.reset();
  VariableStore second("m");  // may reuse the address: it inherits nothing
  EXPECT_TRUE(pending_restores(second).empty());
  EXPECT_EQ(second.root().variable("w", {2}).raw_value().to_vector<float>(), (std::vector<float>{0, 0}));
}

TEST(CheckpointTest, RestoringOnlyTheModelFromAModelAndOptimizerFileIsStrictClean) {
  TempDir dir;
  const std::string path = dir.file("both.safetensors");
  nn::Sequential model("mlp");
  model.add(nn::Linear(nn::LinearOptions(3)));
  optim::Adam adam(optim::AdamOptions(0.01));
  train_steps(model, adam, 2);
  save_checkpoint(path, {&model.store(), &adam.store()});

  nn::Sequential again("mlp");
  again.add(nn::Linear(nn::LinearOptions(3)));
  again.build(Shape{1, 4});
  CheckpointReport report;
  ASSERT_NO_THROW(report = restore_checkpoint(path, {&again.store()}, CheckpointOptions().strict(true)));
  EXPECT_TRUE(report.restore.all_matched()) << report.to_string();
  EXPECT_EQ(report.restore.count(RestoreStatus::kUnexpected), 0u);
  EXPECT_EQ(report.other_stores.size(), adam.store().size()) << report.to_string();
  EXPECT_EQ(values_of(again.store()), values_of(model.store()));
}

TEST(CheckpointTest, MetadataHoldsTheFormatAndReservesGraftKeys) {
  TempDir dir;
  VariableStore store("m");
  store.root().variable("w", {3});
  EXPECT_NE(error_text<ValueError>([&] { save_checkpoint(dir.file("x"), {&store}, {{"graft.step", "1"}}); })
                .find("reserved for the checkpoint layer"),
            std::string::npos);
  VariableStore unnamed;
  EXPECT_NE(error_text<ValueError>([&] { save_checkpoint(dir.file("x"), {&unnamed}); }).find("without a name"),
            std::string::npos);
  save_checkpoint(dir.file("c"), {&store}, {{"train.step", "7"}});
  SafetensorsFile file = SafetensorsFile::read(dir.file("c"));
  EXPECT_EQ(file.metadata().at("graft.format_version"), "1");
  EXPECT_EQ(file.metadata().at("graft.stores"), "m");
  EXPECT_EQ(file.metadata().at("graft.structure_epoch.m"), std::to_string(store.epoch()));
  EXPECT_EQ(file.metadata().at("train.step"), "7");
  std::string listing = inspect_checkpoint(file);
  EXPECT_NE(listing.find("  m: 3 in 1 tensors"), std::string::npos) << listing;
  EXPECT_NE(listing.find("format version 1"), std::string::npos) << listing;

  VariableStore bigger("m");
  bigger.root().variable("w", {4});
  bigger.root().variable("z", {1});
  RestoreReport diff = diff_checkpoint(file, {&bigger});
  EXPECT_EQ(diff.count(RestoreStatus::kShapeMismatch), 1u);
  EXPECT_EQ(diff.count(RestoreStatus::kMissing), 1u);
}

TEST(CheckpointTest, TruncatedOrCorruptFilesAreClearErrors) {
  TempDir dir;
  VariableStore store("m");
  store.root().variable("w", {16}, init::constant(1.0));
  save_checkpoint(dir.file("good"), {&store});
  std::string bytes = testing::read_bytes(dir.file("good"));
  testing::write_bytes(dir.file("truncated"), bytes.substr(0, bytes.size() - 10));
  std::string corrupt = bytes;
  corrupt[9] = '#';  // inside the JSON header
  testing::write_bytes(dir.file("corrupt"), corrupt);
  for (const char* name : {"truncated", "corrupt", "absent"}) {
    std::string message = error_text<IoError>([&] { restore_checkpoint(dir.file(name), {&store}); });
    EXPECT_NE(message.find(dir.file(name)), std::string::npos) << message;
  }
  EXPECT_EQ(store.find("m/w")->raw_value().to_vector<float>(), std::vector<float>(16, 1.0f));
}

// A child saving a large checkpoint over a good one is killed midway; the
// good one still restores.
TEST(CheckpointTest, KilledSaveLeavesTheLastGoodCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  VariableStore store("m");
  Variable w = store.root().variable("w", {4}, init::constant(1.0));
  save_checkpoint(path, {&store}, {{"train.step", "1"}});

  VariableStore big("m");
  big.root().variable("w", {4});
  big.root().variable("huge", {16'000'000}, init::constant(2.0));  // 64 MB
  testing::KilledSave killed = testing::kill_save_midway(
      uint64_t{16} << 20, [&] { save_checkpoint(path, {&big}, {{"train.step", "2"}}); });
  const pid_t child = killed.child;
  ASSERT_TRUE(killed.reached_middle) << "the child never reached the middle of its save";

  w.assign(zeros(Shape{4}));
  CheckpointReport report = restore_checkpoint(path, {&store}, CheckpointOptions().strict(true));
  EXPECT_EQ(report.metadata.at("train.step"), "1");
  EXPECT_EQ(w.raw_value().to_vector<float>(), std::vector<float>(4, 1.0f));
  std::filesystem::remove(path + ".tmp." + std::to_string(child));
}

// A null store pointer was dereferenced (a crash; UBSan: member call on null
// pointer) by save, restore and diff alike.
TEST(CheckpointTest, ANullStoreIsAValueErrorNotACrash) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  VariableStore store("m");
  store.root().variable("w", {2}, init::ones());
  std::string what = error_text<ValueError>([&] { save_checkpoint(path, {&store, nullptr}); });
  GRAFT_EXPECT_CONTAINS(what, "save_checkpoint: store 1 of 2 is a null pointer");
  EXPECT_FALSE(std::filesystem::exists(path));
  save_checkpoint(path, {&store});
  what = error_text<ValueError>([&] { restore_checkpoint(path, {nullptr}); });
  GRAFT_EXPECT_CONTAINS(what, "restore_checkpoint: store 0 of 1 is a null pointer");
  what = error_text<ValueError>([&] { diff_checkpoint(SafetensorsFile::read(path), {nullptr}); });
  GRAFT_EXPECT_CONTAINS(what, "diff_checkpoint: store 0 of 1 is a null pointer");
}

}  // namespace
}  // namespace graft::io
