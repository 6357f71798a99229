// bench/cnn_workloads.h: the CNN training step of the LibTorch comparison
// (bench/torch_compare.cc, cnn_fmnist_train): graft's side here, LibTorch's
// in cnn_workloads_torch.h, the same network on the same rows.
//
//   bench::CnnTrain cnn(images, labels, 64, 16);   // 16 batches of 64 rows
//   cnn.step();                                    // one compiled Adam step on the next batch
//
// The network is `graft train --model cnn --channels 32,64 --hidden 128`
// after its growth: two blocks of 3x3 Conv2d (no bias), BatchNorm, ReLU and
// 2x2 max pooling, then Flatten, Linear(128) with ReLU and Linear(10), on
// [batch, 1, 28, 28] images; mean sparse softmax cross-entropy, Adam 1e-3.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/graft_compiled_workloads.h"
#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"

namespace graft::bench {

inline std::shared_ptr<nn::Sequential> make_fmnist_cnn(uint64_t seed) {
  auto model = std::make_shared<nn::Sequential>("cnn");
  model->set_seed(seed);
  for (int64_t channels : {32, 64}) {
    model->add(nn::Conv2d(nn::Conv2dOptions(channels, 3).padding(1).bias(false)));
    model->add(nn::BatchNorm());
    model->add(nn::ReLU());
    model->add(nn::MaxPool2d(Pool2dOptions(2)));
  }
  model->add(nn::Flatten());
  model->add(nn::Linear(nn::LinearOptions(128).activation(nn::Activation::kRelu)));
  model->add(nn::Linear(nn::LinearOptions(10)));
  return model;
}

class CnnTrain {
 public:
  // Rows [0, batch * batches) of `images` (float32 [N, 784]) and `labels`.
  CnnTrain(const Tensor& images, const Tensor& labels, int64_t batch, int64_t batches) {
    for (int64_t b = 0; b < batches; ++b) {
      xs_.push_back(reshape(slice(images, {b * batch, 0}, {(b + 1) * batch, 784}), {batch, 1, 28, 28}).clone());
      ys_.push_back(slice(labels, {b * batch}, {(b + 1) * batch}).clone());
    }
    trainer_ = {make_fmnist_cnn(1), std::make_unique<optim::Adam>(optim::AdamOptions(1e-3))};
    step_ = compile_step(&trainer_);
  }

  // One training step on the next batch; the loss.
  Tensor step() {
    const size_t b = next_++ % xs_.size();
    return (*step_)(xs_[b], ys_[b]);
  }

 private:
  std::vector<Tensor> xs_, ys_;
  Trainer trainer_;
  CompiledStep step_;
  size_t next_ = 0;
};

}  // namespace graft::bench
