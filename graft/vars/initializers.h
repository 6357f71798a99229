// graft/vars/initializers.h: how a variable's first value is made.
//
//   scope.variable("kernel", {784, 256}, init::glorot_uniform());
//   scope.variable("bias", {256}, init::zeros());
//   scope.variable("recurrent", {128, 512}, init::orthogonal());
//
// Every random initializer is seeded: the store derives a seed from its own
// seed and the variable's path, so a variable gets the same first value on
// every machine and in every run with the same seed, whatever order the
// variables are created in.
#pragma once

#include <functional>
#include <string>

#include "graft/tensor/tensor.h"

namespace graft {

// A named way to fill a new variable (header comment); the init:: functions
// make the usual ones.
class Initializer {
 public:
  // Fills `out` (already allocated with the variable's shape and dtype).
  using Fn = std::function<void(const Tensor& out, uint64_t seed)>;

  // An initializer called `name` (shown in summaries) that runs `fn`.
  Initializer(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}

  // The name, and the fill: `seed` is the store's seed mixed with the path.
  const std::string& name() const { return name_; }
  void operator()(const Tensor& out, uint64_t seed) const { fn_(out, seed); }

 private:
  std::string name_;
  Fn fn_;
};

namespace init {

// Every element 0, 1, or `value`.
Initializer zeros();
Initializer ones();
Initializer constant(double value);
// Copies `value`; throws ShapeError at creation if shapes differ.
Initializer from_tensor(const Tensor& value);
Initializer uniform(double low = -0.05, double high = 0.05);
Initializer normal(double mean = 0.0, double stddev = 0.05);
// Normal values redrawn beyond two standard deviations.
Initializer truncated_normal(double mean = 0.0, double stddev = 0.05);
// Fans: fan_in = product of all but the last dimension, fan_out = the last
// (graft kernels are [in, out]). For rank 0 and 1 both fans are the size.
// Glorot/Xavier: limit sqrt(6 / (fan_in + fan_out)); stddev sqrt(2 / (fan_in + fan_out)).
Initializer glorot_uniform();
Initializer glorot_normal();
// He: limit sqrt(6 / fan_in); stddev sqrt(2 / fan_in).
Initializer he_uniform();
Initializer he_normal();
// A (semi-)orthogonal matrix times gain, from a seeded normal matrix by
// Gram-Schmidt; for rank >= 2, over [prod(all but last), last].
Initializer orthogonal(double gain = 1.0);

}  // namespace init
}  // namespace graft
