#include "graft/dist/structure.h"

#include <gtest/gtest.h>

#include "../testing.h"
#include "dist_testing.h"

namespace graft::dist {
namespace {

using test_util::error_text;

TEST(StructureTest, TheHashFollowsPathShapeDtypeAndTrainableNotCreationOrder) {
  VariableStore a("m"), b("m"), c("m"), d("m");
  a.root().variable("x", {2, 3});
  a.root().variable("y", {4});
  b.root().variable("y", {4});
  b.root().variable("x", {2, 3});
  c.root().variable("x", {3, 2});
  c.root().variable("y", {4});
  d.root().variable("x", {2, 3});
  d.root().variable("y", {4}, init::zeros(), VariableOptions().trainable(false));
  const uint64_t ha = structure_hash(structure_of({&a}));
  EXPECT_EQ(ha, structure_hash(structure_of({&b})));
  EXPECT_NE(ha, structure_hash(structure_of({&c})));
  EXPECT_NE(ha, structure_hash(structure_of({&d})));
  EXPECT_EQ(structure_of({&a})[0].description, "[2, 3] float32 trainable");
}

TEST(StructureTest, TheMismatchMessageNamesTheFirstDifferingPathAndEveryRanksEntry) {
  std::vector<StructureEntry> same = {{"mlp/layer_0/bias", "[8] float32 trainable"},
                                      {"mlp/layer_0/kernel", "[6, 8] float32 trainable"}};
  std::vector<StructureEntry> grown = {{"mlp/layer_0/bias", "[8] float32 trainable"},
                                       {"mlp/layer_0/kernel", "[6, 9] float32 trainable"},
                                       {"mlp/layer_1/bias", "[3] float32 trainable"}};
  EXPECT_EQ(describe_mismatch({same, same}, "at start"), "");
  std::string message = describe_mismatch({same, grown, same}, "after growth event 1");
  GRAFT_EXPECT_CONTAINS(message, "the ranks hold different models after growth event 1");
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'mlp/layer_0/kernel'");
  GRAFT_EXPECT_CONTAINS(message, "rank 0: [6, 8] float32 trainable\n  rank 1: [6, 9] float32 trainable\n"
                                 "  rank 2: [6, 8] float32 trainable");
  GRAFT_EXPECT_CONTAINS(message, "help: every rank must build the same model");
  // A variable only some ranks have.
  message = describe_mismatch({grown, {grown[0], grown[1]}}, "at start");
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'mlp/layer_1/bias'\n  rank 0: [3] float32 trainable\n"
                                 "  rank 1: no such variable");
}

TEST(StructureTest, OtherListsWordTheirMismatchTheirOwnWay) {
  MismatchWording wording;
  wording.differ = "were started with different settings";
  wording.hash_label = "settings hash";
  wording.missing = "not set";
  wording.help = "start every rank with the same flags";
  std::vector<StructureEntry> a = {{"--epochs", "2"}, {"--lr", "0.001"}};
  std::vector<StructureEntry> b = {{"--epochs", "2"}, {"--lr", "0.01"}};
  std::string message = describe_mismatch({a, b}, "at start", wording);
  GRAFT_EXPECT_CONTAINS(message, "dist: the ranks were started with different settings at start (settings hash ");
  GRAFT_EXPECT_CONTAINS(message, "first difference at '--lr'\n  rank 0: 0.001\n  rank 1: 0.01\n"
                                 "  help: start every rank with the same flags");
  message = describe_mismatch({a, {a[0]}}, "on resume", wording);
  GRAFT_EXPECT_CONTAINS(message, "first difference at '--lr'\n  rank 0: 0.001\n  rank 1: not set");
}

TEST(StructureTest, EqualModelsPassTheCheck) {
  Comm& comm = Comm::world();
  VariableStore store("m");
  store.root().variable("w", {3, 4});
  EXPECT_NO_THROW(check_structure(comm, {&store}, "at start"));
}

TEST(StructureTest, ADifferentModelOnOneRankFailsOnEveryRankWithTheSameMessage) {
  Comm& comm = Comm::world();
  if (comm.size() < 2) GTEST_SKIP() << "needs two ranks";
  VariableStore store("m");
  store.root().variable("a", {2});
  store.root().variable("w", {3, comm.rank() == 1 ? 5 : 4});
  std::string message = error_text<StructureError>([&] { check_structure(comm, {&store}, "at start"); });
  GRAFT_EXPECT_CONTAINS(message, "first difference at 'm/w'\n  rank 0: [3, 4] float32 trainable\n"
                                 "  rank 1: [3, 5] float32 trainable");
  EXPECT_TRUE(dist_test::same_text_on_every_rank(comm, message));
}

}  // namespace
}  // namespace graft::dist
