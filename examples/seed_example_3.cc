// Example 3 of docs/seed-examples.md,
// ported to graft: the get_variable registry.
//
// The seed's get_variable_safely returns the variable stored under a name and
// creates it otherwise, but never checks the shape: asking for "weights_0"
// with another shape silently returns the old variable. graft's get_variable
// (TF1's, over the current VariableScope) is the same registry keyed by path,
// with the check: a different shape is a ShapeError that names the path, both
// shapes, where the variable was created and where it was asked for again.
//
// Setting (as examples/seed_tape.cc): input [1, 10], 10x10 weights, loss
// mean(output^2), plain gradient descent with Variable::assign_sub.
#include <cstdio>
#include <source_location>
#include <string>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/vars/store.h"

using namespace graft;

namespace {

constexpr int kMaxLayers = 3;
constexpr int kSteps = 5;
constexpr double kLearningRate = 0.1;

// The seed's get_variable_safely: the caller's line travels along, so errors
// point at the model code, not at this helper.
Variable get_variable_safely(const std::string& name, const Shape& shape,
                             std::source_location location = std::source_location::current()) {
  return get_variable(name, shape, init::normal(0.0, 0.3), {}, location);
}

Tensor custom_dynamic_model(Tensor input, int num_layers) {
  for (int i = 0; i < num_layers; ++i) {
    Variable w = get_variable_safely("weights_" + std::to_string(i), {10, 10});  // created here, once
    input = matmul(input, w);
  }
  return input;
}

}  // namespace

int main() {
  Tensor input = Tensor::empty({1, 10});
  fill_normal(input.data<float>(), input.numel(), /*seed=*/1, 0.0, 1.0);
  bool ok = true;

  // The seed's variable_dict: a store, with the registry scope made current.
  VariableStore registry("registry", /*seed=*/7);
  VariableScope scope(registry.root());
  for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
    std::printf("num_layers=%d\n", num_layers);
    double first = 0.0, last = 0.0;
    for (int step = 0; step < kSteps; ++step) {
      const size_t before = registry.size();
      GradientTape tape;
      Tensor loss = mean(square(custom_dynamic_model(input, num_layers)));
      // The seed's list(variable_dict.values()).
      std::vector<Variable> vars = registry.trainable_variables();
      auto grads = tape.gradient(loss, vars);
      for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * kLearningRate);
      last = loss.item<double>();
      if (step == 0) first = last;
      std::printf("  step %d loss %.6f  created:", step, last);
      for (size_t i = before; i < vars.size(); ++i) std::printf(" %s", vars[i].path().c_str());
      std::printf("\n");
    }
    std::printf("  loss fell from %.6f to %.6f\n", first, last);
    if (!(last < first)) {
      std::printf("FAILED: the loss did not fall with %d layers\n", num_layers);
      ok = false;
    }
  }
  std::printf("registry:");
  for (const Variable& v : registry.variables()) std::printf(" %s%s", v.path().c_str(), v.shape().to_string().c_str());
  std::printf("  (epoch %llu)\n", static_cast<unsigned long long>(registry.epoch()));

  std::printf("\n== asking again for weights_0 with another shape\n");
  try {
    Variable wrong = get_variable_safely("weights_0", {10, 20});  // the seed's registry would return [10, 10]
    std::printf("FAILED: got %s%s back without an error\n", wrong.path().c_str(), wrong.shape().to_string().c_str());
    ok = false;
  } catch (const ShapeError& e) {
    std::printf("%s\n", e.what());
  }
  if (ok) std::printf("loss fell at every depth\n");
  return ok ? 0 : 1;
}
