// The setting of docs/seed-examples.md with raw tensors and the gradient tape
// only: a 10x10 weight per layer, an input of shape [1, 10], num_layers from
// 1 to 3, loss = mean(output^2).
//
// Without variables there is nothing to find again: the weights are plain
// tensors this program owns and passes in, which is exactly what graft's
// variables later do by scope path. A few steps of gradient descent show the
// loss falling for every depth.
#include <cmath>
#include <cstdio>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

using namespace graft;

namespace {

Tensor random_normal_tensor(const Shape& shape, uint64_t seed, double stddev) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, stddev);
  return t;
}

Tensor dynamic_model(Tensor input, const std::vector<Tensor>& weights, int num_layers) {
  for (int i = 0; i < num_layers; ++i) input = matmul(input, weights[i]);
  return input;
}

}  // namespace

int main() {
  const int kMaxLayers = 3;
  Tensor input = random_normal_tensor({1, 10}, /*seed=*/1, 1.0);
  std::vector<Tensor> weights;
  for (int i = 0; i < kMaxLayers; ++i) weights.push_back(random_normal_tensor({10, 10}, 100 + i, 0.3));

  for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
    std::printf("num_layers=%d\n", num_layers);
    for (int step = 0; step < 5; ++step) {
      GradientTape tape;
      for (int i = 0; i < num_layers; ++i) tape.watch(weights[i]);
      Tensor loss = mean(square(dynamic_model(input, weights, num_layers)));
      std::vector<Tensor> sources(weights.begin(), weights.begin() + num_layers);
      auto grads = tape.gradient(loss, sources);
      std::printf("  step %d loss %.6f  |grad| per layer:", step, loss.item<double>());
      for (int i = 0; i < num_layers; ++i) {
        std::printf(" %.4f", std::sqrt(sum(square(*grads[i])).item<double>()));
        weights[i] = weights[i] - 0.1 * *grads[i];
      }
      std::printf("\n");
    }
  }
  return 0;
}
