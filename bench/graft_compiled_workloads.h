// bench/graft_compiled_workloads.h: the graft side of the workloads that go
// through the library's user path (nn::Sequential, nn::LSTM, optimizers,
// graft::function, edit::deepen), for the side-by-side LibTorch comparison
// (bench/torch_compare.cc). bench/graft_workloads.h holds the raw-op ones.
//
//   CompiledMlp mlp({16, 32, 32, 4}, 8);
//   mlp.eager_step();     // the training step run eagerly
//   mlp.compiled_step();  // the same step through graft::function
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "bench/graft_workloads.h"
#include "graft/autodiff/tape.h"
#include "graft/edit/edit.h"
#include "graft/nn/layers.h"
#include "graft/nn/lstm.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/optim/sgd.h"
#include "graft/trace/function.h"

namespace graft::bench {

// Linear layers of `widths` (relu between them), as a user writes them.
inline std::shared_ptr<nn::Sequential> make_sequential_mlp(const std::vector<int64_t>& widths, uint64_t seed) {
  auto model = std::make_shared<nn::Sequential>("mlp");
  model->set_seed(seed);
  for (size_t i = 1; i < widths.size(); ++i) {
    nn::LinearOptions options(widths[i]);
    if (i + 1 < widths.size()) options.activation(nn::Activation::kRelu);
    model->add(nn::Linear(options));
  }
  return model;
}

// A model, its optimizer and the training step: mean sparse softmax
// cross-entropy, gradients of every trainable variable, apply_gradients.
struct Trainer {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;

  Tensor step(const Tensor& x, const Tensor& labels) {
    GradientTape tape;
    Tensor loss = mean(sparse_softmax_cross_entropy((*model)(x), labels));
    std::vector<Variable> vars = model->trainable_variables();
    optimizer->apply_gradients(vars, tape.gradient(loss, vars));
    return loss;
  }
};

// graft::function over Trainer::step, held by pointer so the trainer and the
// function keep stable addresses.
inline auto compile_step(Trainer* trainer) {
  auto body = [trainer](const Tensor& x, const Tensor& labels) { return trainer->step(x, labels); };
  return std::make_shared<Function<decltype(body)>>(body, FunctionOptions().name("train_step"));
}
using CompiledStep = decltype(compile_step(nullptr));

// Labels (b * 7) % classes, as GraftMlp and LibTorch's mlp_step use.
inline Tensor cyclic_labels(int64_t batch, int64_t classes) {
  Tensor labels = Tensor::empty({batch}, DType::kInt64);
  for (int64_t b = 0; b < batch; ++b) labels.data<int64_t>()[b] = (b * 7) % classes;
  return labels;
}

// The MLP step by plain SGD on one fixed batch, eagerly and compiled (two
// models with the same seed, so neither sees the other's updates).
class CompiledMlp {
 public:
  CompiledMlp(const std::vector<int64_t>& widths, int64_t batch, double lr = 0.01)
      : x_(uniform({batch, widths.front()}, 1.0f, 100)), labels_(cyclic_labels(batch, widths.back())) {
    eager_ = {make_sequential_mlp(widths, 1), std::make_unique<optim::SGD>(optim::SGDOptions(lr))};
    compiled_ = {make_sequential_mlp(widths, 1), std::make_unique<optim::SGD>(optim::SGDOptions(lr))};
    step_ = compile_step(&compiled_);
  }
  CompiledMlp(const CompiledMlp&) = delete;
  CompiledMlp& operator=(const CompiledMlp&) = delete;

  Tensor eager_step() { return eager_.step(x_, labels_); }
  Tensor compiled_step() { return (*step_)(x_, labels_); }

 private:
  Tensor x_, labels_;
  Trainer eager_, compiled_;
  CompiledStep step_;
};

// nn::LSTM over x [batch, time, input]: loss = mean of the last h, and the
// gradients of every LSTM weight (no update), eagerly and compiled. The
// compiled function returns the gradients so none of the backward is dead.
class LstmGrad {
 public:
  LstmGrad(int64_t input, int64_t hidden, int64_t time, int64_t batch)
      : x_(uniform({batch, time, input}, 1.0f, 200)),
        eager_(std::make_shared<nn::LSTM>(nn::LSTMOptions(hidden))),
        compiled_(std::make_shared<nn::LSTM>(nn::LSTMOptions(hidden))) {
    eager_->set_seed(3);
    compiled_->set_seed(3);
    nn::LSTM* model = compiled_.get();
    step_ = std::make_shared<Step>([model](const Tensor& x) { return loss_and_grads(*model, x); },
                                   FunctionOptions().name("lstm_grad"));
  }

  std::vector<Tensor> eager_step() { return loss_and_grads(*eager_, x_); }
  std::vector<Tensor> compiled_step() { return (*step_)(x_); }

 private:
  static std::vector<Tensor> loss_and_grads(nn::LSTM& lstm, const Tensor& x) {
    GradientTape tape;
    Tensor loss = mean(lstm(x));
    std::vector<Variable> vars = lstm.trainable_variables();
    std::vector<Tensor> out{loss};
    for (const std::optional<Tensor>& g : tape.gradient(loss, vars)) out.push_back(*g);
    return out;
  }
  using Step = Function<std::function<std::vector<Tensor>(const Tensor&)>>;

  Tensor x_;
  std::shared_ptr<nn::LSTM> eager_, compiled_;
  std::shared_ptr<Step> step_;
};

// One growth event on a trained 784-256-10 model: the constructor builds it,
// compiles its SGD step and runs two steps (untimed); event() inserts a
// 256-unit relu layer after layer 0 (edit::deepen, the optimizer told) and
// runs the first step after it, recapture included.
class GrowthEvent {
 public:
  explicit GrowthEvent(int64_t batch)
      : x_(uniform({batch, 784}, 1.0f, 300)), labels_(cyclic_labels(batch, 10)) {
    trainer_ = {make_sequential_mlp({784, 256, 10}, 1), std::make_unique<optim::SGD>(optim::SGDOptions(0.01))};
    step_ = compile_step(&trainer_);
    for (int i = 0; i < 2; ++i) (void)(*step_)(x_, labels_);
  }
  GrowthEvent(const GrowthEvent&) = delete;
  GrowthEvent& operator=(const GrowthEvent&) = delete;

  Tensor event() {
    edit::deepen(*trainer_.model, 0, edit::EditOptions().optimizer(trainer_.optimizer.get()));
    return (*step_)(x_, labels_);
  }

 private:
  Tensor x_, labels_;
  Trainer trainer_;
  CompiledStep step_;
};

// `steps` consecutive batches of a data set, copied once.
struct Batches {
  std::vector<Tensor> inputs, labels;
};
inline Batches split_batches(const Tensor& inputs, const Tensor& labels, int64_t batch, int steps) {
  const int64_t features = inputs.shape()[1];
  GRAFT_CHECK(inputs.shape()[0] >= batch * steps, "split_batches: ", steps, " batches of ", batch,
              " need more than ", inputs.shape()[0], " examples");
  Batches out;
  for (int s = 0; s < steps; ++s) {
    Tensor x = Tensor::empty({batch, features}, DType::kFloat32);
    Tensor y = Tensor::empty({batch}, DType::kInt64);
    std::memcpy(x.data<float>(), inputs.data<float>() + s * batch * features, sizeof(float) * batch * features);
    std::memcpy(y.data<int64_t>(), labels.data<int64_t>() + s * batch, sizeof(int64_t) * batch);
    out.inputs.push_back(x);
    out.labels.push_back(y);
  }
  return out;
}

// A fresh 784-256-256-10 relu MLP trained by Adam (lr 1e-3) with a compiled
// step, one step per batch.
class FmnistTrain {
 public:
  explicit FmnistTrain(const Batches& batches) : batches_(batches) {
    trainer_ = {make_sequential_mlp({784, 256, 256, 10}, 1), std::make_unique<optim::Adam>(optim::AdamOptions(1e-3))};
    step_ = compile_step(&trainer_);
  }
  FmnistTrain(const FmnistTrain&) = delete;
  FmnistTrain& operator=(const FmnistTrain&) = delete;

  // Trains on every batch once; returns the last loss.
  double train() {
    Tensor loss;
    for (size_t i = 0; i < batches_.inputs.size(); ++i) loss = (*step_)(batches_.inputs[i], batches_.labels[i]);
    return loss.item<double>();
  }

 private:
  const Batches& batches_;
  Trainer trainer_;
  CompiledStep step_;
};

}  // namespace graft::bench
