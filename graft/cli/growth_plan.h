// graft/cli/growth_plan.h: when and how `graft train` grows its network.
//
//   GrowthPlan plan = parse_growth_plan("widen:256@2,deepen@4,widen:512:1@s3000");
//   validate_growth_plan(plan, /*hidden=*/{128}, /*epochs=*/10);
//
// Grammar: events separated by commas, each ACTION[:ARGS]@WHEN.
//   deepen[:L]      insert an identity-initialised hidden layer after hidden
//                   layer L (default: the last), same width as L
//   widen:U[:L]     widen hidden layer L (default: the last) to U units
//                   (Net2WiderNet, function-preserving)
//   prune:U[:L]     shrink hidden layer L (default: the last) to U units,
//                   keeping the units with the largest outgoing weights
//   WHEN            E: after epoch E (1-based); sN: after global step N
// Hidden layers are numbered from 0 in the network as it is when the event
// runs. Errors say which event, what was expected and what was found.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace graft::cli {

struct GrowthEvent {
  enum class Action { kDeepen, kWiden, kPrune };
  Action action;
  int64_t units = 0;  // widen, prune
  int64_t layer = -1; // hidden layer index; -1 = the last
  bool at_step = false;
  int64_t when = 0;   // epoch (1-based) or step
  std::string text;   // as written, for messages

  std::string describe() const;
};

using GrowthPlan = std::vector<GrowthEvent>;

// Throws ValueError naming the event and what is wrong.
GrowthPlan parse_growth_plan(std::string_view text);

// The widest hidden layer and the deepest network `graft train` builds: far
// beyond what trains on one machine, small enough that no size computation
// can overflow.
inline constexpr int64_t kMaxWidth = int64_t{1} << 24;
inline constexpr int64_t kMaxHiddenLayers = 1024;

// Simulates the plan on hidden layer widths `hidden` and checks every event
// refers to a layer that exists then, widens to more units (at most
// kMaxWidth), prunes to fewer (at least 1), keeps at most kMaxHiddenLayers
// hidden layers, and happens within `epochs` epochs (or `total_steps`).
// Returns the widths after each event. Throws ValueError before any training
// starts.
std::vector<std::vector<int64_t>> validate_growth_plan(const GrowthPlan& plan, std::vector<int64_t> hidden,
                                                       int64_t epochs, int64_t total_steps);

// Orders events by when they happen (stable for equal times).
void sort_growth_plan(GrowthPlan& plan, int64_t steps_per_epoch);

}  // namespace graft::cli
