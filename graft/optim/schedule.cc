#include "graft/optim/schedule.h"

#include <cmath>

#include "graft/base/check.h"

namespace graft::optim::schedule {

namespace {

// Only constant() checked its rate: step_decay(-1, ...) or cosine's min_lr
// -1 ran gradient ascent, and inf or NaN rates turned every weight NaN.
void check_rate(const char* schedule, const char* what, double value) {
  GRAFT_CHECK(value >= 0 && std::isfinite(value), "schedule::", schedule, ": ", what,
              " must be a finite number >= 0, got ", value);
}

}  // namespace

LearningRateSchedule constant(double lr) {
  check_rate("constant", "the learning rate", lr);
  return [lr](int64_t) { return lr; };
}

LearningRateSchedule step_decay(double lr, int64_t every, double gamma) {
  check_rate("step_decay", "the learning rate", lr);
  check_rate("step_decay", "gamma", gamma);
  GRAFT_CHECK(every > 0, "schedule::step_decay: 'every' must be > 0, got ", every);
  return [=](int64_t step) { return lr * std::pow(gamma, static_cast<double>(step / every)); };
}

LearningRateSchedule cosine(double lr, int64_t total_steps, double min_lr) {
  check_rate("cosine", "the learning rate", lr);
  check_rate("cosine", "min_lr", min_lr);
  GRAFT_CHECK(total_steps > 0, "schedule::cosine: total_steps must be > 0, got ", total_steps);
  return [=](int64_t step) {
    if (step >= total_steps) return min_lr;
    const double pi = 3.14159265358979323846;
    double progress = static_cast<double>(step) / static_cast<double>(total_steps);
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(pi * progress));
  };
}

LearningRateSchedule warmup(int64_t warmup_steps, LearningRateSchedule after) {
  GRAFT_CHECK(warmup_steps >= 0, "schedule::warmup: warmup_steps must be >= 0, got ", warmup_steps);
  return [warmup_steps, after = std::move(after)](int64_t step) {
    if (step >= warmup_steps) return after(step);
    // In double: warmup_steps + 1 overflowed int64 for warmup_steps INT64_MAX.
    return after(warmup_steps) * (static_cast<double>(step) + 1.0) / (static_cast<double>(warmup_steps) + 1.0);
  };
}

}  // namespace graft::optim::schedule
