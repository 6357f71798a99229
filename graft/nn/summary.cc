// Module::summary: one row per module and per variable, then the totals.
#include <algorithm>
#include <sstream>

#include "graft/base/check.h"
#include "graft/nn/module.h"

namespace graft::nn {
namespace {

using Row = std::vector<std::string>;

}  // namespace

void Module::summary_rows(const std::vector<Variable>& all, std::vector<Row>& rows) const {
  std::string state = built() ? "" : " (not built)";
  rows.push_back({path(), describe() + state, "", "", ""});
  for (const Variable& v : own_variables(all)) {
    rows.push_back({v.path(), v.shape().to_string() + " " + std::string(dtype_name(v.dtype())),
                    std::to_string(v.shape().numel()), v.trainable() ? "yes" : "no",
                    graft::base::internal::format_location(v.created_at())});
  }
  for (const auto& c : children_) c->summary_rows(all, rows);
}

std::string Module::summary() const {
  VariableStore* s = existing_store();
  const std::vector<Variable> all = s != nullptr ? s->variables() : std::vector<Variable>{};
  std::vector<Row> rows = {{"path", "layer / shape", "params", "trainable", "created at"}};
  summary_rows(all, rows);

  std::vector<size_t> widths(rows[0].size(), 0);
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  std::ostringstream out;
  out << "model '" << path() << "' (store '" << (s != nullptr ? s->name() : name_) << "', epoch "
      << (s != nullptr ? s->epoch() : 0) << ")\n";
  for (const Row& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      std::string cell = r[i];
      // Numbers right-aligned, text left-aligned.
      if (i == 2) cell = std::string(widths[i] - cell.size(), ' ') + cell;
      else if (i + 1 < r.size()) cell += std::string(widths[i] - cell.size(), ' ');
      line += (i == 0 ? "  " : "  ") + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  int64_t total = 0, trainable = 0;
  std::vector<Variable> vars = variables();
  for (const Variable& v : vars) {
    total += v.shape().numel();
    if (v.trainable()) trainable += v.shape().numel();
  }
  out << "  total: " << vars.size() << " variables, " << total << " parameters (" << trainable << " trainable, "
      << total - trainable << " frozen)\n";
  return out.str();
}

}  // namespace graft::nn
