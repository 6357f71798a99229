// graft/cli/metrics_record.h: reads back one line of a run's metrics.jsonl
// (graft/cli/run_log.h writes them), so a resumed run can keep the records of
// its earlier part and plot the whole run.
//
//   std::optional<MetricsRecord> r = parse_metrics_record(line);
//   if (r && r->kind == "step") steps.push_back(r->as_step());
//
// The parser takes one flat JSON object whose values are numbers, null,
// strings or arrays of strings, as RunLog writes; anything else (a line cut
// off mid-write, two records glued together, garbage) is nullopt, never an
// exception.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "graft/cli/run_log.h"

namespace graft::cli {

struct MetricsRecord {
  std::string kind;  // "step", "epoch" or "growth"
  int64_t step = 0;
  std::map<std::string, double> numbers;            // null reads as NaN
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<std::string>> lists;

  StepRecord as_step() const;
  EpochRecord as_epoch() const;
  GrowthRecord as_growth() const;
};

// nullopt unless `line` is a complete record with a known "kind" and a
// whole "step" >= 0.
std::optional<MetricsRecord> parse_metrics_record(const std::string& line);

}  // namespace graft::cli
