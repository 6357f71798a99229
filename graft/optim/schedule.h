// graft/optim/schedule.h: learning rate as a function of the step.
//
//   Adam adam(AdamOptions(1e-3).schedule(schedule::warmup(500, schedule::cosine(1e-3, 10000))));
//
// A schedule is evaluated on the host before each update (inside a compiled
// step too, through host_call), so it can be any function of the step count.
#pragma once

#include <cstdint>
#include <functional>

namespace graft::optim {

// The learning rate as a function of the optimizer's iteration count.
using LearningRateSchedule = std::function<double(int64_t step)>;

// Ready-made schedules. They throw ValueError for a learning rate (lr,
// min_lr) or gamma that is negative, infinite or NaN, a negative warmup, or a
// period (every, total_steps) below 1. An optimizer throws ValueError at the
// step where any schedule gives a rate that is negative, infinite or NaN.
namespace schedule {

// lr at every step.
LearningRateSchedule constant(double lr);
// lr * gamma^(step / every).
LearningRateSchedule step_decay(double lr, int64_t every, double gamma);
// From lr down to min_lr over total_steps along half a cosine, then min_lr.
LearningRateSchedule cosine(double lr, int64_t total_steps, double min_lr = 0.0);
// Linear from 0 to after(warmup_steps) over the first warmup_steps, then after.
LearningRateSchedule warmup(int64_t warmup_steps, LearningRateSchedule after);

}  // namespace schedule
}  // namespace graft::optim
