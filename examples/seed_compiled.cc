// The dynamic model of docs/seed-examples.md inside a compiled training step
// (graft::function), growing from 1 to 3 layers.
//
// TensorFlow's tf.function fails here with "tf.function only supports
// singleton tf.Variables created on the first call": the second trace creates
// layer_1's weights. graft recaptures instead: every existing variable is
// found again by path, only the new layer's are created, and explain() says
// why each capture happened. The second half runs the same code in strict
// mode, which reproduces TensorFlow's rule with a better message.
#include <cstdio>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/trace/function.h"
#include "graft/vars/store.h"

using namespace graft;

namespace {

Tensor dynamic_model(VariableStore& store, Tensor x, int num_layers) {
  for (int i = 0; i < num_layers; ++i) {
    Scope layer = store.root().child("layer_" + std::to_string(i));
    Variable w = layer.variable("weights", {10, 10}, init::normal(0.0, 0.3));
    x = matmul(x, w);
  }
  return x;
}

template <typename Step>
void train(Step& step, const Tensor& x) {
  for (int num_layers = 1; num_layers <= 3; ++num_layers) {
    std::printf("num_layers=%d\n", num_layers);
    for (int i = 0; i < 4; ++i) std::printf("  step %d loss %.6f\n", i, step(x, num_layers).template item<double>());
  }
}

}  // namespace

int main() {
  Tensor x = Tensor::empty({1, 10});
  fill_normal(x.data<float>(), x.numel(), /*seed=*/1, 0.0, 1.0);

  VariableStore store("seed", /*seed=*/7);
  auto train_step = function(
      [&](const Tensor& input, int num_layers) {
        GradientTape tape;
        Tensor loss = mean(square(dynamic_model(store, input, num_layers)));
        std::vector<Variable> vars = store.trainable_variables();
        auto grads = tape.gradient(loss, vars);
        for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.1);
        return loss;
      },
      FunctionOptions().name("train_step"));
  train(train_step, x);
  std::printf("variables:");
  for (const Variable& v : store.variables()) std::printf(" %s%s", v.path().c_str(), v.shape().to_string().c_str());
  std::printf("\n%s", train_step.explain().c_str());

  std::printf("\nstrict mode (TensorFlow's rule):\n");
  VariableStore strict_store("strict", /*seed=*/7);
  auto strict_step = function(
      [&](const Tensor& input, int num_layers) { return mean(square(dynamic_model(strict_store, input, num_layers))); },
      FunctionOptions().name("strict_step").strict(true));
  try {
    train(strict_step, x);
    std::printf("strict mode did not stop the second capture\n");
    return 1;
  } catch (const Error& e) {
    std::printf("%s\n", e.what());
  }
  return 0;
}
