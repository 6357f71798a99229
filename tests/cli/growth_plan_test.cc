#include "graft/cli/growth_plan.h"

#include <functional>

#include <gtest/gtest.h>

#include "graft/base/error.h"

namespace graft::cli {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no error";
}

TEST(GrowthPlanTest, ParsesEveryActionAndBothTimings) {
  GrowthPlan plan = parse_growth_plan("deepen@2,widen:256@4,prune:64:0@s3000,deepen:1@5");
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].action, GrowthEvent::Action::kDeepen);
  EXPECT_EQ(plan[0].layer, -1);
  EXPECT_EQ(plan[0].when, 2);
  EXPECT_EQ(plan[1].action, GrowthEvent::Action::kWiden);
  EXPECT_EQ(plan[1].units, 256);
  EXPECT_EQ(plan[2].action, GrowthEvent::Action::kPrune);
  EXPECT_EQ(plan[2].layer, 0);
  EXPECT_TRUE(plan[2].at_step);
  EXPECT_EQ(plan[2].when, 3000);
  EXPECT_EQ(plan[3].layer, 1);
  EXPECT_TRUE(parse_growth_plan("").empty());
}

TEST(GrowthPlanTest, SyntaxErrorsNameTheEventAndShowTheGrammar) {
  std::string e = error_of([] { parse_growth_plan("widen@2"); });
  EXPECT_NE(e.find("growth event 'widen@2': widen needs the number of units"), std::string::npos) << e;
  EXPECT_NE(e.find("help: write events as ACTION[:ARGS]@WHEN"), std::string::npos) << e;
  e = error_of([] { parse_growth_plan("grow:3@1"); });
  EXPECT_NE(e.find("unknown action 'grow' (expected deepen, widen or prune)"), std::string::npos) << e;
  e = error_of([] { parse_growth_plan("deepen"); });
  EXPECT_NE(e.find("growth event 'deepen' has no '@WHEN'"), std::string::npos) << e;
  e = error_of([] { parse_growth_plan("widen:lots@2"); });
  EXPECT_NE(e.find("the number of units must be a whole number, got 'lots'"), std::string::npos) << e;
  e = error_of([] { parse_growth_plan("deepen@0"); });
  EXPECT_NE(e.find("the epoch must be >= 1, got 0"), std::string::npos) << e;
}

TEST(GrowthPlanTest, ValidationSimulatesThePlan) {
  auto widths = validate_growth_plan(parse_growth_plan("widen:256@2,deepen@3,widen:300:0@4"), {128}, 10, 10000);
  ASSERT_EQ(widths.size(), 3u);
  EXPECT_EQ(widths[0], (std::vector<int64_t>{256}));
  EXPECT_EQ(widths[1], (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(widths[2], (std::vector<int64_t>{300, 256}));
}

TEST(GrowthPlanTest, ImpossiblePlansFailBeforeTraining) {
  std::string e = error_of([] { validate_growth_plan(parse_growth_plan("widen:256:3@2"), {128}, 10, 100); });
  EXPECT_NE(e.find("growth event 'widen:256:3@2': hidden layer 3 does not exist; the network then has 1 hidden "
                   "layers (0..0)"),
            std::string::npos)
      << e;
  e = error_of([] { validate_growth_plan(parse_growth_plan("widen:64@2"), {128}, 10, 100); });
  EXPECT_NE(e.find("widen needs more units than hidden layer 0 has then (128), got 64"), std::string::npos) << e;
  e = error_of([] { validate_growth_plan(parse_growth_plan("deepen@10"), {128}, 10, 100); });
  EXPECT_NE(e.find("is after epoch 10 but the run has 10 epochs"), std::string::npos) << e;
  e = error_of([] { validate_growth_plan(parse_growth_plan("prune:0@2"), {128}, 10, 100); });
  EXPECT_NE(e.find("prune needs between 1 and 127 units"), std::string::npos) << e;
  e = error_of([] { validate_growth_plan(parse_growth_plan("deepen@s500"), {128}, 10, 100); });
  EXPECT_NE(e.find("is at step 500 but the run has only 100 steps"), std::string::npos) << e;
  e = error_of([] { validate_growth_plan(parse_growth_plan("deepen@1"), {}, 10, 100); });
  EXPECT_NE(e.find("the network has no hidden layer to deepen after"), std::string::npos) << e;
}

TEST(GrowthPlanTest, LayerIndicesAreRangeCheckedNotCast) {
  std::string e = error_of([] { parse_growth_plan("widen:300:-7@1"); });
  EXPECT_NE(e.find("growth event 'widen:300:-7@1': the layer index must be 0 or more, got -7"), std::string::npos)
      << e;
  for (const char* layer : {"4294967296", "2147483648"}) {
    std::string plan = std::string("deepen:") + layer + "@1";
    GrowthPlan parsed = parse_growth_plan(plan);
    EXPECT_EQ(std::to_string(parsed[0].layer), layer);
    e = error_of([&] { validate_growth_plan(parsed, {128}, 10, 100); });
    EXPECT_NE(e.find(std::string("hidden layer ") + layer + " does not exist"), std::string::npos) << e;
  }
}

TEST(GrowthPlanTest, WidthsAndDepthAreBounded) {
  std::string e = error_of([] { validate_growth_plan(parse_growth_plan("widen:100000000000@1"), {128}, 10, 100); });
  EXPECT_NE(e.find("widen to at most 16777216 units"), std::string::npos) << e;
  std::vector<int64_t> deep(static_cast<size_t>(kMaxHiddenLayers), 8);
  e = error_of([&] { validate_growth_plan(parse_growth_plan("deepen@1"), deep, 10, 100); });
  EXPECT_NE(e.find("more than 1024 hidden layers"), std::string::npos) << e;
}

TEST(GrowthPlanTest, SortsByTime) {
  GrowthPlan plan = parse_growth_plan("deepen@3,widen:256@s100,widen:300@1");
  sort_growth_plan(plan, /*steps_per_epoch=*/50);
  EXPECT_EQ(plan[0].text, "widen:300@1");
  EXPECT_EQ(plan[1].text, "widen:256@s100");
  EXPECT_EQ(plan[2].text, "deepen@3");
}

}  // namespace
}  // namespace graft::cli

namespace graft::cli {
namespace {

TEST(GrowthPlanTest, DescribingAnInvalidActionFailsLoudly) {
  GrowthEvent e{.action = GrowthEvent::Action::kPrune, .units = 8};
  EXPECT_NE(e.describe().find("prune the last hidden layer to 8 units"), std::string::npos) << e.describe();
  e.action = static_cast<GrowthEvent::Action>(9);
  EXPECT_THROW(e.describe(), InternalError);
}

}  // namespace
}  // namespace graft::cli
