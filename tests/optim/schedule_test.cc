#include "graft/optim/schedule.h"

#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>

#include "graft/base/error.h"

namespace graft::optim {
namespace {

TEST(ScheduleTest, ConstantStepCosineAndWarmup) {
  EXPECT_DOUBLE_EQ(schedule::constant(0.1)(1000), 0.1);
  auto step = schedule::step_decay(1.0, 10, 0.5);
  EXPECT_DOUBLE_EQ(step(9), 1.0);
  EXPECT_DOUBLE_EQ(step(10), 0.5);
  EXPECT_DOUBLE_EQ(step(25), 0.25);
  auto cosine = schedule::cosine(1.0, 100, 0.1);
  EXPECT_DOUBLE_EQ(cosine(0), 1.0);
  EXPECT_NEAR(cosine(50), 0.55, 1e-12);
  EXPECT_DOUBLE_EQ(cosine(100), 0.1);
  EXPECT_DOUBLE_EQ(cosine(500), 0.1);
  auto warm = schedule::warmup(4, schedule::constant(1.0));
  EXPECT_DOUBLE_EQ(warm(0), 0.2);
  EXPECT_DOUBLE_EQ(warm(3), 0.8);
  EXPECT_DOUBLE_EQ(warm(4), 1.0);
}

TEST(ScheduleTest, BadArgumentsAreErrors) {
  EXPECT_THROW(schedule::constant(-1), ValueError);
  EXPECT_THROW(schedule::step_decay(1, 0, 0.5), ValueError);
  EXPECT_THROW(schedule::cosine(1, 0), ValueError);
}

// Only constant() checked its rate: a negative step_decay or cosine rate ran
// gradient ascent, inf or NaN made every weight NaN; warmup(INT64_MAX)
// overflowed int64 (undefined behaviour) computing warmup_steps + 1.
TEST(ScheduleTest, EveryScheduleRefusesNegativeInfiniteOrNaNRates) {
  EXPECT_THROW(schedule::constant(INFINITY), ValueError);
  EXPECT_THROW(schedule::constant(NAN), ValueError);
  EXPECT_THROW(schedule::step_decay(-1, 10, 0.5), ValueError);
  EXPECT_THROW(schedule::step_decay(1, 10, NAN), ValueError);
  EXPECT_THROW(schedule::step_decay(1, 10, -2), ValueError);
  EXPECT_THROW(schedule::cosine(NAN, 10), ValueError);
  EXPECT_THROW(schedule::cosine(0.1, 10, -1), ValueError);
  EXPECT_THROW(schedule::cosine(INFINITY, 10), ValueError);
  auto forever = schedule::warmup(INT64_MAX, schedule::constant(0.5));
  EXPECT_GT(forever(5), 0.0);
  EXPECT_LT(forever(5), 1e-15);
}

}  // namespace
}  // namespace graft::optim
