#include "graft/cli/growth_plan.h"

#include <algorithm>
#include <charconv>

#include "graft/base/check.h"

namespace graft::cli {
namespace {

const char* kGrammar =
    "\n  help: write events as ACTION[:ARGS]@WHEN separated by commas, e.g. "
    "'widen:256@2,deepen@4,prune:64:0@s3000' (deepen[:LAYER], widen:UNITS[:LAYER], prune:UNITS[:LAYER]; "
    "WHEN is an epoch number or s<step>)";

int64_t parse_int(std::string_view text, std::string_view event, std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  GRAFT_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(), "growth event '", event,
              "': ", what, " must be a whole number, got '", text, "'", kGrammar);
  return value;
}

// An explicit layer index: 0 or more (leaving it out means the last layer).
int64_t parse_layer(std::string_view text, std::string_view event) {
  int64_t layer = parse_int(text, event, "the layer index");
  GRAFT_CHECK(layer >= 0, "growth event '", event, "': the layer index must be 0 or more, got ", layer,
              "\n  help: hidden layers are numbered from 0; leave the index out for the last hidden layer");
  return layer;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return parts;
}

}  // namespace

std::string GrowthEvent::describe() const {
  std::string layer_text = layer < 0 ? "the last hidden layer" : "hidden layer " + std::to_string(layer);
  switch (action) {
    case Action::kDeepen: return "deepen after " + layer_text;
    case Action::kWiden: return "widen " + layer_text + " to " + std::to_string(units) + " units";
    case Action::kPrune: return "prune " + layer_text + " to " + std::to_string(units) + " units";
  }
  GRAFT_INTERNAL_ASSERT(false, "growth event action ", static_cast<int>(action), " has no description");
  return {};
}

GrowthPlan parse_growth_plan(std::string_view text) {
  GrowthPlan plan;
  if (text.empty()) return plan;
  for (std::string_view event : split(text, ',')) {
    GRAFT_CHECK(!event.empty(), "growth plan '", text, "' has an empty event", kGrammar);
    size_t at = event.find('@');
    GRAFT_CHECK(at != std::string_view::npos, "growth event '", event, "' has no '@WHEN'", kGrammar);
    GrowthEvent e;
    e.text = std::string(event);
    std::string_view when = event.substr(at + 1);
    if (!when.empty() && when[0] == 's') {
      e.at_step = true;
      when.remove_prefix(1);
    }
    e.when = parse_int(when, event, e.at_step ? "the step" : "the epoch");
    GRAFT_CHECK(e.when >= 1, "growth event '", event, "': ", e.at_step ? "the step" : "the epoch",
                " must be >= 1, got ", e.when);
    std::vector<std::string_view> parts = split(event.substr(0, at), ':');
    std::string_view action = parts[0];
    if (action == "deepen") {
      e.action = GrowthEvent::Action::kDeepen;
      GRAFT_CHECK(parts.size() <= 2, "growth event '", event, "': deepen takes at most a layer index", kGrammar);
      if (parts.size() == 2) e.layer = parse_layer(parts[1], event);
    } else if (action == "widen" || action == "prune") {
      e.action = action == "widen" ? GrowthEvent::Action::kWiden : GrowthEvent::Action::kPrune;
      GRAFT_CHECK(parts.size() == 2 || parts.size() == 3, "growth event '", event, "': ", action,
                  " needs the number of units, as ", action, ":UNITS[:LAYER]", kGrammar);
      e.units = parse_int(parts[1], event, "the number of units");
      if (parts.size() == 3) e.layer = parse_layer(parts[2], event);
    } else {
      base::internal::throw_error<ValueError>("growth event '", event, "': unknown action '", action,
                                        "' (expected deepen, widen or prune)", kGrammar);
    }
    plan.push_back(std::move(e));
  }
  return plan;
}

void sort_growth_plan(GrowthPlan& plan, int64_t steps_per_epoch) {
  std::stable_sort(plan.begin(), plan.end(), [&](const GrowthEvent& a, const GrowthEvent& b) {
    auto step = [&](const GrowthEvent& e) { return e.at_step ? e.when : e.when * steps_per_epoch; };
    return step(a) < step(b);
  });
}

std::vector<std::vector<int64_t>> validate_growth_plan(const GrowthPlan& plan, std::vector<int64_t> hidden,
                                                       int64_t epochs, int64_t total_steps) {
  std::vector<std::vector<int64_t>> widths;
  for (const GrowthEvent& e : plan) {
    if (e.at_step) {
      GRAFT_CHECK(e.when < total_steps, "growth event '", e.text, "' is at step ", e.when, " but the run has only ",
                  total_steps, " steps\n  help: use an earlier step or train for more epochs");
    } else {
      GRAFT_CHECK(e.when < epochs, "growth event '", e.text, "' is after epoch ", e.when, " but the run has ", epochs,
                  " epochs, so it would never train the grown network\n  help: use an earlier epoch or raise --epochs");
    }
    const int64_t count = static_cast<int64_t>(hidden.size());
    GRAFT_CHECK(count > 0, "growth event '", e.text, "': the network has no hidden layer to ",
                e.action == GrowthEvent::Action::kDeepen ? "deepen after" : "change",
                "\n  help: give at least one hidden layer with --hidden");
    const int64_t layer = e.layer < 0 ? count - 1 : e.layer;
    GRAFT_CHECK(layer < count, "growth event '", e.text, "': hidden layer ", e.layer,
                " does not exist; the network then has ", count, " hidden layers (0..", count - 1, ")");
    int64_t& width = hidden[static_cast<size_t>(layer)];
    switch (e.action) {
      case GrowthEvent::Action::kDeepen:
        GRAFT_CHECK(count < kMaxHiddenLayers, "growth event '", e.text, "': the network would have more than ",
                    kMaxHiddenLayers, " hidden layers, graft train's limit");
        hidden.insert(hidden.begin() + layer + 1, hidden[static_cast<size_t>(layer)]);
        break;
      case GrowthEvent::Action::kWiden:
        GRAFT_CHECK(e.units > width, "growth event '", e.text, "': widen needs more units than hidden layer ", layer,
                    " has then (", width, "), got ", e.units, "\n  help: use prune to make a layer smaller");
        GRAFT_CHECK(e.units <= kMaxWidth, "growth event '", e.text, "': widen to at most ", kMaxWidth,
                    " units (graft train's limit for one layer), got ", e.units);
        width = e.units;
        break;
      case GrowthEvent::Action::kPrune:
        GRAFT_CHECK(e.units >= 1 && e.units < width, "growth event '", e.text, "': prune needs between 1 and ",
                    width - 1, " units for hidden layer ", layer, ", got ", e.units);
        width = e.units;
        break;
    }
    widths.push_back(hidden);
  }
  return widths;
}

}  // namespace graft::cli
