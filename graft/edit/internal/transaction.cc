#include "graft/edit/internal/transaction.h"

#include <algorithm>
#include <cmath>

#include "graft/ops/dispatch.h"
#include "graft/ops/ops.h"

namespace graft::edit::internal {
namespace {

std::set<uint64_t> variable_ids(nn::Sequential& model) {
  std::set<uint64_t> ids;
  for (const Variable& v : model.variables()) ids.insert(v.id());
  return ids;
}

}  // namespace

Tensor to_dtype(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return cast(Tensor::from_vector(values, shape), dtype);
}

Tensor ones_at(const Shape& shape, DType dtype, const std::vector<int64_t>& ones) {
  Tensor out = zeros(shape, dtype);
  visit_dtype(dtype, [&]<typename T>(T) {
    T* p = out.data<T>();
    for (int64_t i : ones) p[i] = T(1);
  });
  return out;
}

Tensor probe_output(nn::Sequential& model, const Tensor& probe) {
  bool training = model.is_training();
  model.eval();
  Tensor out = model(probe);
  model.train(training);
  return out;
}

double max_difference(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    // std::max(m, NaN) is m, so a NaN output (before or after) passed as a
    // difference of 0 and the edit was reported verified. A NaN is no
    // evidence that the function was kept.
    const double d = std::abs(va[i] - vb[i]);
    if (std::isnan(d)) return NAN;
    m = std::max(m, d);
  }
  return m;
}

void check_can_edit(const char* edit, const EditOptions& options) {
  GRAFT_CHECK(ops::internal::interceptor() == nullptr, edit,
              ": cannot edit a model inside a graft::function capture (its weights are symbolic there)",
              "\n  help: edit between calls of the compiled function; its next call recaptures the grown model");
  GRAFT_CHECK(options.tolerance() >= 0, edit, ": EditOptions::tolerance must be >= 0, got ", options.tolerance());
  GRAFT_CHECK(options.noise() >= 0 && std::isfinite(options.noise()), edit,
              ": EditOptions::noise (a standard deviation) must be finite and >= 0, got ", options.noise());
}

void reserve_widened(const Variable& kernel, int axis, int64_t units, const std::string& reason) {
  try {
    Shape grown = kernel.shape();
    grown.set_dim(axis, units);
    Tensor::empty(grown, kernel.dtype());
  } catch (Error& e) {
    e.add_context("while " + reason);
    throw;
  }
}

void finish_report(EditReport& r, nn::Sequential& model, const std::vector<Variable>& before) {
  std::set<uint64_t> after_ids = variable_ids(model);
  std::set<uint64_t> before_ids;
  for (const Variable& v : before) {
    before_ids.insert(v.id());
    if (!after_ids.count(v.id())) r.retired.push_back(v.path());
  }
  for (const Variable& v : model.variables()) {
    if (!before_ids.count(v.id())) r.created.push_back(v.path());
  }
  r.parameters_after = model.parameter_count();
}

}  // namespace graft::edit::internal
