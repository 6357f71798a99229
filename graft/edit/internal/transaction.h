// graft/edit/internal/transaction.h: what every architecture edit shares:
// the probe check, the report, the rollback. Not a public header.
#pragma once

#include <cmath>
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

// Throws ValueError when `edit` ("widen", "deepen", "prune") cannot start:
// inside a graft::function capture (weights are symbolic there, so an edit
// failed halfway and left the model inconsistent), or with a tolerance or
// noise that is NaN or negative (a NaN tolerance rolled back every edit, a
// negative noise was silently none).
void check_can_edit(const char* edit, const EditOptions& options);
// Allocates a weight of `kernel`'s shape grown to `units` along `axis`, so an
// impossible width is a ShapeError (the element count overflows) or graft's
// out-of-memory error, both naming `reason`, before any per-unit work (a
// widen to 2^40 units filled memory with its unit map, then died).
void reserve_widened(const Variable& kernel, int axis, int64_t units, const std::string& reason);

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
      if (std::isnan(report.max_difference)) {
        graft::base::internal::throw_error<ValueError>(
            report.description, " could not be verified: the network's output on the probe batch has NaN (before ",
            "or after the edit), so it was rolled back",
            "\n  help: probe with finite inputs, on a model whose outputs are finite");
      }
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
