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

// How check_gradients() compares: the difference step and the tolerances.
class GradcheckOptions {
 public:
  // The central-difference step.
  GradcheckOptions& eps(double e) { eps_ = e; return *this; }
  // An entry passes when |numeric - analytic| <= atol + rtol * |numeric|.
  GradcheckOptions& atol(double a) { atol_ = a; return *this; }
  GradcheckOptions& rtol(double r) { rtol_ = r; return *this; }

  // The values set above, or their defaults (1e-6, 1e-5, 1e-4).
  double eps() const { return eps_; }
  double atol() const { return atol_; }
  double rtol() const { return rtol_; }

 private:
  double eps_ = 1e-6;
  double atol_ = 1e-5;
  double rtol_ = 1e-4;
};

// What check_gradients() found.
struct GradcheckResult {
  bool ok = true;                // every Jacobian entry within tolerance
  double max_abs_error = 0.0;    // the largest |numeric - analytic| seen
  std::string report;  // the worst mismatch, when !ok
};

// The function under test: inputs to one output tensor.
using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Compares the tape's Jacobian of f at `inputs` with central differences
// (header comment). Inputs should be float64 for the default tolerances.
GradcheckResult check_gradients(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& options = {});

}  // namespace graft
