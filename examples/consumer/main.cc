// Trains a small growing model against an installed graft: a compiled Adam
// step, a widen in the middle, and a loss that must fall. Prints the version,
// the losses and "consumer: ok"; exits non-zero when training did not work.
#include <graft/graft.h>

#include <cstdio>

int main() {
  using namespace graft;
  std::printf("graft %s\n", version());

  // A separable two-class problem: the class is whether x0 + x1 > 0.
  Tensor x = random_normal(Shape{64, 4}, /*seed=*/7);
  std::vector<int64_t> labels(64);
  for (int64_t i = 0; i < 64; ++i) {
    labels[i] = x.data<float>()[i * 4] + x.data<float>()[i * 4 + 1] > 0 ? 1 : 0;
  }
  Tensor y = Tensor::from_vector(labels, Shape{64});

  nn::Sequential model("consumer");
  model.add(nn::Linear(nn::LinearOptions(8).activation(nn::Activation::kRelu)));
  model.add(nn::Linear(nn::LinearOptions(2)));
  optim::Adam adam(optim::AdamOptions(0.05));
  auto step = function([&](const Tensor& xb, const Tensor& yb) {
    GradientTape tape;
    Tensor loss = mean(sparse_softmax_cross_entropy(model(xb), yb));
    auto vars = model.trainable_variables();
    adam.apply_gradients(vars, tape.gradient(loss, vars));
    return loss;
  });

  float first = step(x, y).item<float>();
  for (int i = 0; i < 30; ++i) step(x, y);
  edit::widen(model, 0, 16, edit::EditOptions().probe(x).optimizer(&adam));
  float last = 0;
  for (int i = 0; i < 30; ++i) last = step(x, y).item<float>();
  std::printf("loss %.4f -> %.4f\n", first, last);
  if (!(last < first * 0.5f)) {
    std::printf("consumer: the loss did not fall enough\n");
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
}
