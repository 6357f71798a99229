// graft/autodiff/gradcheck.h: full-Jacobian gradient checks by central
// differences, for tests.
//
//   auto f = [](const std::vector<Tensor>& in) { return tanh(in[0]) * in[1]; };
//   GradcheckResult r = check_gradients(f, {x, y});   // float64 inputs
//   EXPECT_TRUE(r.ok) << r.report;
//
// Every output element's row of the Jacobian is taken from the tape (one
// gradient() call seeded with a one-hot output gradient) and compared with
// central differences over every input element. Integer inputs are passed
// through unchecked.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graft/tensor/tensor.h"

namespace graft {

class GradcheckOptions {
 public:
  // The central-difference step.
  GradcheckOptions& eps(double e) { eps_ = e; return *this; }
  // An entry passes when |numeric - analytic| <= atol + rtol * |numeric|.
  GradcheckOptions& atol(double a) { atol_ = a; return *this; }
  GradcheckOptions& rtol(double r) { rtol_ = r; return *this; }

  double eps() const { return eps_; }
  double atol() const { return atol_; }
  double rtol() const { return rtol_; }

 private:
  double eps_ = 1e-6;
  double atol_ = 1e-5;
  double rtol_ = 1e-4;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::string report;  // the worst mismatch, when !ok
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult check_gradients(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& options = {});

}  // namespace graft
