#include "graft/autodiff/gradcheck.h"

#include <cmath>
#include <sstream>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"

namespace graft {

GradcheckResult check_gradients(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& options) {
  GradcheckResult result;
  std::vector<Tensor> base;
  for (const Tensor& t : inputs) base.push_back(t.clone());

  // Analytic Jacobian, one output row at a time.
  Tensor y0 = f(base);
  const int64_t rows = y0.numel();
  std::vector<std::vector<double>> analytic(inputs.size());
  for (size_t k = 0; k < base.size(); ++k) analytic[k].assign(static_cast<size_t>(rows * base[k].numel()), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    GradientTape tape;
    for (const Tensor& t : base) tape.watch(t);
    Tensor y = f(base);
    Tensor seed = zeros_like(y);
    visit_dtype(seed.dtype(), [&]<typename T>(T) { seed.data<T>()[i] = T(1); });
    auto grads = tape.gradient(y, base, seed);
    for (size_t k = 0; k < base.size(); ++k) {
      if (!grads[k]) continue;
      std::vector<double> g = grads[k]->to_vector<double>();
      for (size_t j = 0; j < g.size(); ++j) analytic[k][static_cast<size_t>(i) * g.size() + j] = g[j];
    }
  }

  // Numeric Jacobian, one input column at a time.
  for (size_t k = 0; k < base.size(); ++k) {
    if (!is_floating(base[k].dtype())) continue;
    const int64_t cols = base[k].numel();
    for (int64_t j = 0; j < cols; ++j) {
      auto eval_at = [&](double delta) {
        std::vector<Tensor> shifted = base;
        shifted[k] = base[k].clone();
        visit_dtype(shifted[k].dtype(), [&]<typename T>(T) { shifted[k].data<T>()[j] += static_cast<T>(delta); });
        return f(shifted).to_vector<double>();
      };
      std::vector<double> plus = eval_at(options.eps());
      std::vector<double> minus = eval_at(-options.eps());
      for (int64_t i = 0; i < rows; ++i) {
        double numeric = (plus[i] - minus[i]) / (2 * options.eps());
        double got = analytic[k][static_cast<size_t>(i * cols + j)];
        double err = std::abs(numeric - got);
        result.max_abs_error = std::max(result.max_abs_error, err);
        if (!(err <= options.atol() + options.rtol() * std::abs(numeric)) && result.ok) {
          result.ok = false;
          std::ostringstream out;
          out << "input " << k << " element " << j << ", output element " << i << ": analytic " << got
              << ", numeric " << numeric << " (error " << err << ")";
          result.report = out.str();
        }
      }
    }
  }
  return result;
}

}  // namespace graft
