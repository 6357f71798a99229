#include "graft/vars/store.h"

#include <source_location>
#include <thread>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

std::string here_plus(int lines, std::source_location loc = std::source_location::current()) {
  return base::internal::str("store_test.cc:", loc.line() + lines);
}

TEST(VariableStoreTest, GetOrCreateReturnsTheSameVariableForAPath) {
  VariableStore store("mlp");
  Scope layer = store.root().child("layer_0");
  Variable a = layer.variable("kernel", {10, 10}, init::glorot_uniform());
  Variable b = layer.variable("kernel", {10, 10}, init::glorot_uniform());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(a.path(), "mlp/layer_0/kernel");
  EXPECT_EQ(a.name(), "kernel");
  EXPECT_EQ(store.size(), 1u);
}

// The TF1 reuse table: mode x (exists, missing) x (same, different shape).
struct ReuseCase {
  Reuse mode;
  bool exists;
  bool same_shape;
  const char* outcome;  // "new", "same", "ValueError", "NotFoundError", "ShapeError"
};

std::string reuse_case_name(const ::testing::TestParamInfo<ReuseCase>& info) {
  static const char* const kModes[] = {"Create", "Reuse", "AutoReuse"};
  return base::internal::str(kModes[static_cast<int>(info.param.mode)], info.param.exists ? "Exists" : "Missing",
                       info.param.same_shape ? "SameShape" : "OtherShape");
}

class ReuseTableTest : public ::testing::TestWithParam<ReuseCase> {};

TEST_P(ReuseTableTest, FollowsTheTable) {
  const ReuseCase& c = GetParam();
  VariableStore store("m");
  Variable existing;
  if (c.exists) existing = store.root().variable("w", {2, 3});
  Scope scope = store.root().child("unused").child("x");  // unrelated scopes change nothing
  Scope target(store, "m", c.mode);
  Shape shape = c.same_shape ? Shape{2, 3} : Shape{3, 3};
  std::string outcome;
  try {
    Variable v = target.variable("w", shape);
    outcome = (c.exists && v == existing) ? "same" : "new";
  } catch (const ShapeError&) {
    outcome = "ShapeError";
  } catch (const NotFoundError&) {
    outcome = "NotFoundError";
  } catch (const ValueError&) {
    outcome = "ValueError";
  }
  EXPECT_EQ(outcome, c.outcome);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, ReuseTableTest,
    ::testing::Values(ReuseCase{Reuse::kCreate, false, true, "new"}, ReuseCase{Reuse::kCreate, false, false, "new"},
                      ReuseCase{Reuse::kCreate, true, true, "ValueError"},
                      ReuseCase{Reuse::kCreate, true, false, "ValueError"},
                      ReuseCase{Reuse::kReuse, false, true, "NotFoundError"},
                      ReuseCase{Reuse::kReuse, false, false, "NotFoundError"},
                      ReuseCase{Reuse::kReuse, true, true, "same"}, ReuseCase{Reuse::kReuse, true, false, "ShapeError"},
                      ReuseCase{Reuse::kAutoReuse, false, true, "new"},
                      ReuseCase{Reuse::kAutoReuse, false, false, "new"},
                      ReuseCase{Reuse::kAutoReuse, true, true, "same"},
                      ReuseCase{Reuse::kAutoReuse, true, false, "ShapeError"}),
    reuse_case_name);

TEST(VariableStoreTest, ChildScopesInheritTheReuseMode) {
  VariableStore store("m");
  store.root().child("a").child("b").variable("w", {1});
  Scope reuse = store.root().child("a", Reuse::kReuse);
  EXPECT_EQ(reuse.child("b").reuse(), Reuse::kReuse);
  EXPECT_NO_THROW(reuse.child("b").variable("w", {1}));
  EXPECT_THROW(reuse.child("b").variable("missing", {1}), NotFoundError);
  EXPECT_EQ(reuse.child("c", Reuse::kAutoReuse).reuse(), Reuse::kAutoReuse);
}

TEST(VariableStoreTest, ShapeConflictNamesThePathBothShapesAndBothCreationSites) {
  VariableStore store("encoder");
  Scope layer = store.root().child("layer_1");
  std::string created = here_plus(1);
  layer.variable("kernel", {512, 64});
  std::string requested = here_plus(2);
  try {
    layer.variable("kernel", {512, 128});
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("graft::ShapeError: variable 'encoder/layer_1/kernel' exists with shape [512, 64], "
                        "requested [512, 128]"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("created at:   " + created), std::string::npos) << what;
    EXPECT_NE(what.find("requested at: " + requested), std::string::npos) << what;
    EXPECT_NE(what.find("help: use another name, or retire the old layer"), std::string::npos) << what;
  }
}

TEST(VariableStoreTest, DTypeConflictNamesBothDtypes) {
  VariableStore store("m");
  store.root().variable("step", {}, init::zeros(), VariableOptions().dtype(DType::kInt64));
  try {
    store.root().variable("step", {});
    FAIL();
  } catch (const DTypeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("variable 'm/step' exists with dtype int64, requested float32"), std::string::npos) << what;
    EXPECT_NE(what.find("help:"), std::string::npos);
  }
}

TEST(VariableStoreTest, CreateModeErrorAndReuseModeErrorSayWhatToDo) {
  VariableStore store("m");
  store.root().variable("w", {1});
  try {
    Scope(store, "m", Reuse::kCreate).variable("w", {1});
    FAIL();
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("variable 'm/w' already exists"), std::string::npos) << what;
    EXPECT_NE(what.find("created at:   store_test.cc:"), std::string::npos) << what;
    EXPECT_NE(what.find("help: use another name, or Reuse::kAutoReuse"), std::string::npos) << what;
  }
  try {
    Scope(store, "m", Reuse::kReuse).variable("v", {1});
    FAIL();
  } catch (const NotFoundError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("variable 'm/v' does not exist"), std::string::npos) << what;
    EXPECT_NE(what.find("requested at: store_test.cc:"), std::string::npos) << what;
    EXPECT_NE(what.find("help: create it first"), std::string::npos) << what;
  }
}

TEST(VariableStoreTest, BadNamesAreRejectedShowingTheName) {
  VariableStore store("m");
  try {
    store.root().variable("a/b", {1});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("name 'a/b' contains '/'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.root().child(""), ValueError);
  EXPECT_THROW(store.root().variable("", {1}), ValueError);
}

TEST(VariableTest, AssignChecksShapeAndDtypeNamingThePath) {
  VariableStore store("m");
  Variable w = store.root().variable("w", {2}, init::ones());
  w.assign(Tensor::from_vector<float>({3, 4}));
  EXPECT_EQ(w.value().to_vector<float>(), (std::vector<float>{3, 4}));
  try {
    w.assign(zeros({3}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("to variable 'm/w' of shape [2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(w.assign(zeros({2}, DType::kFloat64)), DTypeError);
  w.assign_sub(Tensor::from_vector<float>({1, 1}));
  EXPECT_EQ(w.value().to_vector<float>(), (std::vector<float>{2, 3}));
}

TEST(VariableTest, ValueIsTheSameTensorOnEveryRead) {
  VariableStore store("m");
  Variable w = store.root().variable("w", {2});
  EXPECT_EQ(w.value().id(), w.value().id());
}

TEST(VariableStoreTest, UnkeyedNamesAreMadeUnique) {
  VariableStore store("m");
  VariableScope scope(store.root());
  Variable a(zeros({1}), "weights");
  Variable b(zeros({1}), "weights");
  Variable c(zeros({1}), "weights");
  EXPECT_EQ(a.path(), "m/weights");
  EXPECT_EQ(b.path(), "m/weights_1");
  EXPECT_EQ(c.path(), "m/weights_2");
  {
    VariableScope layer("layer_0");
    Variable d(zeros({1}), "weights");
    EXPECT_EQ(d.path(), "m/layer_0/weights");
    EXPECT_EQ(store.size(), 4u);
  }
  // d's last handle is gone, so it left the store.
  EXPECT_EQ(store.size(), 3u);
}

TEST(VariableStoreTest, VariablesAreListedInCreationOrder) {
  VariableStore store("m");
  Scope root = store.root();
  root.variable("z", {1});
  root.child("a").variable("w", {1});
  root.variable("b", {1}, init::zeros(), VariableOptions().trainable(false));
  std::vector<std::string> paths;
  for (const Variable& v : store.variables()) paths.push_back(v.path());
  EXPECT_EQ(paths, (std::vector<std::string>{"m/z", "m/a/w", "m/b"}));
  EXPECT_EQ(store.trainable_variables().size(), 2u);
}

TEST(VariableStoreTest, RetirementRemovesTheVariableMovesTheEpochAndExplainsLaterUse) {
  VariableStore store("mlp");
  Variable w = store.root().child("layer_1").variable("kernel", {2, 2});
  uint64_t epoch = store.epoch();
  std::string retired_at = here_plus(1);
  store.retire(w, "Sequential::remove(1)");
  EXPECT_GT(store.epoch(), epoch);
  EXPECT_TRUE(w.is_retired());
  EXPECT_TRUE(store.variables().empty());
  EXPECT_FALSE(store.find("mlp/layer_1/kernel").has_value());
  try {
    w.value();
    FAIL();
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("cannot read variable 'mlp/layer_1/kernel': it was retired by Sequential::remove(1) at " +
                        retired_at),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("help:"), std::string::npos);
  }
  EXPECT_THROW(w.assign(zeros({2, 2})), ValueError);
  // The path is free again: a new layer gets a new variable.
  Variable fresh = store.root().child("layer_1").variable("kernel", {2, 2});
  EXPECT_NE(fresh.id(), w.id());
}

TEST(VariableStoreTest, EpochMovesOnCreateButNotOnReuse) {
  VariableStore store("m");
  uint64_t e0 = store.epoch();
  store.root().variable("w", {1});
  uint64_t e1 = store.epoch();
  EXPECT_GT(e1, e0);
  store.root().variable("w", {1});
  EXPECT_EQ(store.epoch(), e1);
}

TEST(VariableStoreTest, ConcurrentGetOrCreateOfOnePathYieldsOneVariable) {
  VariableStore store("m");
  std::vector<uint64_t> ids(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Variable v = store.root().child("shared").variable("w", {16, 16}, init::glorot_uniform());
        if (i == 0) ids[t] = v.id();
        EXPECT_EQ(v.id(), store.find("m/shared/w")->id());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (uint64_t id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(store.size(), 1u);
}

TEST(VariableStoreTest, InitialValuesDependOnSeedAndPathOnly) {
  VariableStore a("m", 7), b("m", 7), c("m", 8);
  // Created in different orders, the same path gets the same value.
  Variable a1 = a.root().variable("x", {4}, init::normal());
  Variable a2 = a.root().variable("y", {4}, init::normal());
  Variable b2 = b.root().variable("y", {4}, init::normal());
  Variable b1 = b.root().variable("x", {4}, init::normal());
  Variable c1 = c.root().variable("x", {4}, init::normal());
  EXPECT_EQ(a1.value().to_vector<float>(), b1.value().to_vector<float>());
  EXPECT_EQ(a2.value().to_vector<float>(), b2.value().to_vector<float>());
  EXPECT_NE(a1.value().to_vector<float>(), a2.value().to_vector<float>());
  EXPECT_NE(a1.value().to_vector<float>(), c1.value().to_vector<float>());
}

TEST(VariableTapeTest, TrainableVariablesReadUnderATapeAreWatched) {
  VariableStore store("m");
  Variable w = store.root().variable("w", {2}, init::constant(3.0));
  Variable frozen = store.root().variable("f", {2}, init::constant(1.0), VariableOptions().trainable(false));
  GradientTape tape;
  Tensor loss = sum(square(w.value()) * frozen);
  auto grads = tape.gradient(loss, store.variables());
  ASSERT_TRUE(grads[0].has_value());
  EXPECT_EQ(grads[0]->to_vector<float>(), (std::vector<float>{6, 6}));
  EXPECT_FALSE(grads[1].has_value());
}

TEST(VariableOptionsTest, UnkeyedCreationTakesTrainableAndConvertsToTheRequestedDtype) {
  VariableStore store("m");
  VariableScope scope(store.root());
  Tensor halves = Tensor::from_vector<double>({0.5, 1.5}, {2});
  Variable kept(halves, "kept");
  EXPECT_EQ(kept.dtype(), DType::kFloat64);  // no dtype asked: the value's
  EXPECT_TRUE(kept.trainable());
  Variable scale(halves, "scale", VariableOptions().dtype(DType::kFloat32).trainable(false));
  EXPECT_EQ(scale.dtype(), DType::kFloat32);
  EXPECT_EQ(scale.value().to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_FALSE(scale.trainable());
  EXPECT_EQ(store.trainable_variables().size(), 1u);
  GradientTape tape;
  Tensor loss = sum(square(kept.value())) + sum(cast(scale.value(), DType::kFloat64));
  auto grads = tape.gradient(loss, std::vector<Tensor>{kept.value(), scale.value()});
  EXPECT_TRUE(grads[0].has_value());
  EXPECT_FALSE(grads[1].has_value());  // not trainable: never watched
}

TEST(VariableOptionsTest, ScopeVariablesAreFloat32UnlessAskedOtherwise) {
  VariableStore store("m");
  EXPECT_EQ(store.root().variable("a", {1}).dtype(), DType::kFloat32);
  EXPECT_EQ(store.root().variable("b", {1}, init::zeros(), VariableOptions().dtype(DType::kFloat64)).dtype(),
            DType::kFloat64);
  EXPECT_THROW(store.root().variable("b", {1}), DTypeError);  // exists as float64
}

TEST(VariableStoreTest, VariablesOutlivingTheirStoreReportIt) {
  Variable w;
  {
    VariableStore store("tmp");
    w = store.root().variable("w", {1});
  }
  try {
    w.value();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("VariableStore 'tmp' was destroyed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

std::string value_error(const auto& f) { return test_util::error_text<ValueError>(f); }

TEST(NameGrammarTest, ComponentsFollowTensorFlowsGrammar) {
  for (const char* good : {"kernel", "layer_0", "a.b", "x-1", ".hidden", "0", "W", "v1.2-rc_3"}) {
    EXPECT_NO_THROW(check_variable_name(good, "test")) << good;
  }
  for (const char* bad : {"", ".", "..", "a b", "_x", "-x", "a/b", "tab\there", "a:b", "é", "a\nb", "x*"}) {
    EXPECT_THROW(check_variable_name(bad, "test"), ValueError) << bad;
  }
}

TEST(NameGrammarTest, MessagesNameTheOffendingCharacterEscapedWhenUnprintable) {
  VariableStore store("s");
  std::string what = value_error([&] { store.root().child("a b"); });
  GRAFT_EXPECT_CONTAINS(what, "Scope::child: name 'a b' has ' ' (a space) at position 1");
  GRAFT_EXPECT_CONTAINS(what, "[A-Za-z0-9.][A-Za-z0-9_.-]*");
  what = value_error([&] { store.root().variable("bell\a", {1}); });
  GRAFT_EXPECT_CONTAINS(what, "Scope::variable: name 'bell\\x07' has '\\x07' at position 4");
  EXPECT_EQ(what.find('\a'), std::string::npos) << "the raw control character reached the message";
  what = value_error([&] { store.root().child(".."); });
  GRAFT_EXPECT_CONTAINS(what, "name '..' is not allowed");
  what = value_error([&] { VariableScope scope(store.root()); Variable w(ones({1}), "_w"); });
  GRAFT_EXPECT_CONTAINS(what, "Variable: name '_w' has '_' at position 0 (its first character)");
  EXPECT_THROW(VariableStore("my store"), ValueError);
}

TEST(NameGrammarTest, TheScopeConstructorChecksThePath) {
  VariableStore store("s");
  std::string what = value_error([&] { Scope(store, "s//double", Reuse::kAutoReuse); });
  GRAFT_EXPECT_CONTAINS(what, "Scope: path 's//double' has an empty component (number 2, at position 2)");
  what = value_error([&] { Scope(store, "/lead", Reuse::kAutoReuse); });
  GRAFT_EXPECT_CONTAINS(what, "path '/lead' has an empty component (number 1, at position 0)");
  EXPECT_THROW(Scope(store, "s/", Reuse::kAutoReuse), ValueError);
  EXPECT_THROW(Scope(store, "s/..", Reuse::kAutoReuse), ValueError);
  what = value_error([&] { Scope(store, "s/a b/c", Reuse::kAutoReuse); });
  GRAFT_EXPECT_CONTAINS(what, "has ' ' (a space) at position 1");
  GRAFT_EXPECT_CONTAINS(what, "in component 2 of path 's/a b/c'");
  what = value_error([&] { Scope(store, "other/x", Reuse::kAutoReuse); });
  GRAFT_EXPECT_CONTAINS(what, "Scope: path 'other/x' is outside store 's'");
  EXPECT_THROW(Scope(store, "sx/y", Reuse::kAutoReuse), ValueError);
  EXPECT_THROW(Scope(store, "", Reuse::kAutoReuse), ValueError);
  // Valid paths still work, in named and unnamed stores.
  EXPECT_EQ(Scope(store, "s/layer_0", Reuse::kAutoReuse).variable("kernel", {1}).path(), "s/layer_0/kernel");
  EXPECT_EQ(Scope(store, "s", Reuse::kAutoReuse).path(), "s");
  VariableStore unnamed;
  EXPECT_EQ(Scope(unnamed, "", Reuse::kAutoReuse).variable("w", {1}).path(), "w");
  EXPECT_EQ(Scope(unnamed, "any/where", Reuse::kAutoReuse).variable("w", {1}).path(), "any/where/w");
}

}  // namespace
}  // namespace graft
