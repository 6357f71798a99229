// graft/edit/internal/transaction.h: what every architecture edit shares:
// the probe check, the report, the rollback. Not a public header.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "graft/edit/edit.h"

namespace graft::edit::internal {

// `values` as a tensor of `shape` in `dtype` (computed in double).
Tensor to_dtype(const std::vector<double>& values, const Shape& shape, DType dtype);
// Zeros of `shape` in `dtype` with a 1 at each flat index of `ones`: the
// identity kernels deepen inserts, without a double-precision copy of the
// whole kernel.
Tensor ones_at(const Shape& shape, DType dtype, const std::vector<int64_t>& ones);

// The model's output on `probe` in evaluation mode (its mode comes back).
Tensor probe_output(nn::Sequential& model, const Tensor& probe);
// max |a - b|; infinity when the shapes differ.
double max_difference(const Tensor& a, const Tensor& b);
// Fills in the parameter counts and created/retired paths.
void finish_report(EditReport& r, nn::Sequential& model, const std::vector<Variable>& before);

// Runs `apply`, verifies on the probe, rolls back with `undo` on failure.
template <typename Apply, typename Undo>
EditReport transaction(nn::Sequential& model, const EditOptions& options, std::string description, bool verify,
                       Apply apply, Undo undo) {
  EditReport report;
  report.description = std::move(description);
  report.parameters_before = model.parameter_count();
  std::vector<Variable> before = model.variables();
  Tensor f_old = verify && options.probe().defined() ? probe_output(model, options.probe()) : Tensor();
  apply();
  if (f_old.defined()) {
    report.max_difference = max_difference(f_old, probe_output(model, options.probe()));
    report.verified = true;
    if (!(report.max_difference <= options.tolerance())) {
      undo();
      graft::base::internal::throw_error<ValueError>(
          report.description, " changed the network's output by up to ", report.max_difference,
          " on the probe batch (tolerance ", options.tolerance(), "), so it was rolled back",
          "\n  help: deepen preserves the function only after a relu (or no) activation; widen only without noise");
    }
  }
  finish_report(report, model, before);
  return report;
}

// The convolutional forms of the edits (conv_edit.cc), for a Conv2d at
// `index`; widen_units also serves a Linear widened with UnitInit::kZeroFanout.
EditReport widen_units(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options);
EditReport deepen_conv(nn::Sequential& model, size_t index, const EditOptions& options);
EditReport prune_conv(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options);

}  // namespace graft::edit::internal
