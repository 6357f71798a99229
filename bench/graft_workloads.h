// bench/graft_workloads.h: the graft side of every benchmark workload, shared
// by the Google Benchmark programs (bench/*_bench.cc) and the side-by-side
// LibTorch comparison (bench/torch_compare.cc), so both time the same code.
//
//   bench::GraftMlp mlp({784, 256, 256, 10}, 256);
//   mlp.step();  // forward, backward, plain SGD update
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"

namespace graft::bench {

// A tensor of `shape` filled with uniform values in [-scale, scale).
inline Tensor uniform(const Shape& shape, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  Tensor t = Tensor::empty(shape, DType::kFloat32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

// An MLP with relu between layers, trained by plain SGD on one fixed batch.
class GraftMlp {
 public:
  GraftMlp(const std::vector<int64_t>& widths, int64_t batch, float lr = 0.01f) {
    uint32_t seed = 1;
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      float scale = 1.0f / static_cast<float>(widths[i]);
      weights_.push_back(uniform({widths[i], widths[i + 1]}, scale, seed++));
      biases_.push_back(uniform({widths[i + 1]}, scale, seed++));
    }
    x_ = uniform({batch, widths.front()}, 1.0f, seed++);
    labels_ = Tensor::empty({batch}, DType::kInt64);
    int64_t* labels = labels_.data<int64_t>();
    for (int64_t b = 0; b < batch; ++b) labels[b] = (b * 7) % widths.back();
    lr_ = Tensor::scalar<float>(lr);
    for (size_t i = 0; i < weights_.size(); ++i) {
      params_.push_back(weights_[i]);
      params_.push_back(biases_[i]);
    }
  }

  Tensor forward() const {
    Tensor h = x_;
    for (size_t i = 0; i < weights_.size(); ++i) {
      h = matmul(h, weights_[i]) + biases_[i];
      if (i + 1 < weights_.size()) h = relu(h);
    }
    return h;
  }

  // One training step; returns the loss before the update.
  Tensor step() {
    GradientTape tape;
    for (const Tensor& p : params_) tape.watch(p);
    Tensor loss = mean(sparse_softmax_cross_entropy(forward(), labels_));
    std::vector<std::optional<Tensor>> grads = tape.gradient(loss, params_);
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_from(params_[i] - lr_ * *grads[i]);
    return loss;
  }

 private:
  std::vector<Tensor> weights_, biases_, params_;
  Tensor x_, labels_, lr_;
};

// Eager add on one-element tensors.
struct GraftEagerAdd {
  Tensor a = Tensor::from_vector<float>({1.5f});
  Tensor b = Tensor::from_vector<float>({2.5f});

  Tensor add_only() const { return add(a, b); }

  // The add under a tape, then its gradient with respect to both inputs.
  std::vector<std::optional<Tensor>> add_with_tape() const {
    GradientTape tape;
    tape.watch(a);
    tape.watch(b);
    Tensor y = add(a, b);
    return tape.gradient(y, {a, b});
  }
};

}  // namespace graft::bench
