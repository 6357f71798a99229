#include <gtest/gtest.h>

#include "graft/base/warning.h"
#include "graft/ops/ops.h"
#include "graft/vars/store.h"

namespace graft {
namespace {

// The seed's Example 1: a new "weights" variable per layer per call, dropped
// when the call returns.
Tensor faulty_model(Tensor x, int layers) {
  for (int i = 0; i < layers; ++i) {
    Variable w(ones({4, 4}), "weights");
    x = matmul(x, w);
  }
  return x;
}

TEST(CreationAuditTest, ReportsASiteThatKeepsRecreatingDroppedVariables) {
  VariableStore store("faulty");
  store.set_audit_options(AuditOptions().threshold(2).strict(false).print_warnings(false));
  VariableScope scope(store.root());
  for (int step = 0; step < 4; ++step) faulty_model(ones({1, 4}), 1);
  auto reports = store.audit_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].name, "weights");
  EXPECT_NE(reports[0].site.find("audit_test.cc:"), std::string::npos) << reports[0].site;
  EXPECT_EQ(reports[0].recreations, 3);  // every step after the first
  EXPECT_NE(reports[0].message.find("help: create it once by path with scope.variable(\"weights\""), std::string::npos);
}

TEST(CreationAuditTest, StrictModeThrowsAtTheSite) {
  VariableStore store("faulty");
  store.set_audit_options(AuditOptions().threshold(2).strict(true).print_warnings(false));
  VariableScope scope(store.root());
  try {
    for (int step = 0; step < 4; ++step) faulty_model(ones({1, 4}), 1);
    FAIL() << "strict audit did not throw";
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("variable 'weights' is created again at audit_test.cc:"), std::string::npos) << what;
    EXPECT_NE(what.find("thrown away"), std::string::npos) << what;
  }
}

TEST(CreationAuditTest, AGrowingModelThatKeepsItsVariablesIsNotReported) {
  VariableStore store("growing");
  store.set_audit_options(AuditOptions().threshold(1).strict(true).print_warnings(false));
  VariableScope scope(store.root());
  std::vector<Variable> layers;
  for (int step = 0; step < 5; ++step) {
    layers.emplace_back(ones({4, 4}), "weights");  // one new layer per step, all kept
    Tensor x = ones({1, 4});
    for (const Variable& w : layers) x = matmul(x, w);
  }
  EXPECT_TRUE(store.audit_reports().empty());
  EXPECT_EQ(store.size(), 5u);
}

// One scratch variable made and dropped, then five kept, all at one site.
void scratch_then_kept(std::vector<Variable>& kept) {
  for (int i = 0; i < 6; ++i) {
    Variable w(ones({2}), "weights");
    if (i > 0) kept.push_back(w);  // the first is scratch: it dies here
  }
}

TEST(CreationAuditTest, ASiteThatDropsOneScratchVariableAndKeepsFiveIsNotReported) {
  VariableStore store("scratch");
  store.set_audit_options(AuditOptions().threshold(2).strict(false).print_warnings(true));
  VariableScope scope(store.root());
  CapturedWarnings warnings;
  std::vector<Variable> kept;
  scratch_then_kept(kept);
  EXPECT_TRUE(store.audit_reports().empty());
  EXPECT_TRUE(warnings.messages().empty());
  EXPECT_EQ(store.size(), 5u);
}

TEST(CreationAuditTest, StrictModeDoesNotThrowForAScratchVariableAmongKeptOnes) {
  VariableStore store("scratch");
  store.set_audit_options(AuditOptions().threshold(2).strict(true).print_warnings(false));
  VariableScope scope(store.root());
  std::vector<Variable> kept;
  EXPECT_NO_THROW(scratch_then_kept(kept));
  EXPECT_EQ(kept.size(), 5u);
}

TEST(CreationAuditTest, TheReportedCountStaysCurrentAfterTheReport) {
  VariableStore store("faulty");
  store.set_audit_options(AuditOptions().threshold(2).strict(false).print_warnings(true));
  VariableScope scope(store.root());
  CapturedWarnings warnings;
  for (int step = 0; step < 3; ++step) faulty_model(ones({1, 4}), 1);  // 2 re-creations
  ASSERT_EQ(store.audit_reports().size(), 1u);
  EXPECT_EQ(store.audit_reports()[0].recreations, 2);
  for (int step = 0; step < 5; ++step) faulty_model(ones({1, 4}), 1);
  auto reports = store.audit_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].recreations, 7);
  EXPECT_NE(reports[0].message.find("(7 re-creations so far)"), std::string::npos) << reports[0].message;
  // Warned once, through the warning handler, not on stderr.
  ASSERT_EQ(warnings.messages().size(), 1u);
  EXPECT_NE(warnings.messages()[0].find("variable 'weights' is created again at audit_test.cc:"), std::string::npos);
}

TEST(CreationAuditTest, KeyedCreationIsNeverReported) {
  VariableStore store("keyed");
  store.set_audit_options(AuditOptions().threshold(1).strict(true).print_warnings(false));
  for (int step = 0; step < 5; ++step) {
    for (int i = 0; i < 3; ++i) store.root().child("layer_" + std::to_string(i)).variable("weights", {4, 4});
  }
  EXPECT_TRUE(store.audit_reports().empty());
  EXPECT_EQ(store.size(), 3u);
}

TEST(CreationAuditTest, DroppedUnkeyedVariablesLeaveTheListingAndMoveTheEpoch) {
  VariableStore store("m");
  VariableScope scope(store.root());
  uint64_t e0 = store.epoch();
  { Variable w(ones({1}), "weights"); EXPECT_EQ(store.size(), 1u); }
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.epoch(), e0 + 2);
}

}  // namespace
}  // namespace graft
