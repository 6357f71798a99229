// LibTorch's side of the CNN workload (cnn_workloads_torch.h).
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "bench/cnn_workloads_torch.h"

namespace graft::bench::torch_side {
namespace {

struct Cnn {
  torch::nn::Sequential net{nullptr};
  std::unique_ptr<torch::optim::Adam> adam;
  std::vector<torch::Tensor> xs, ys;
  size_t next = 0;
};

}  // namespace

std::function<void()> cnn_fmnist_train(const float* images, const int64_t* labels, int64_t batch, int64_t batches) {
  torch::manual_seed(1);
  auto m = std::make_shared<Cnn>();
  m->net = torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1).bias(false)), torch::nn::BatchNorm2d(32),
      torch::nn::ReLU(), torch::nn::MaxPool2d(2),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1).bias(false)), torch::nn::BatchNorm2d(64),
      torch::nn::ReLU(), torch::nn::MaxPool2d(2), torch::nn::Flatten(), torch::nn::Linear(64 * 7 * 7, 128),
      torch::nn::ReLU(), torch::nn::Linear(128, 10));
  m->net->train();
  m->adam = std::make_unique<torch::optim::Adam>(m->net->parameters(), torch::optim::AdamOptions(1e-3));
  for (int64_t b = 0; b < batches; ++b) {
    m->xs.push_back(torch::from_blob(const_cast<float*>(images) + b * batch * 784, {batch, 1, 28, 28}).clone());
    m->ys.push_back(torch::from_blob(const_cast<int64_t*>(labels) + b * batch, {batch}, torch::kInt64).clone());
  }
  return [m] {
    const size_t b = m->next++ % m->xs.size();
    m->adam->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(m->net->forward(m->xs[b]), m->ys[b]);
    loss.backward();
    m->adam->step();
  };
}

}  // namespace graft::bench::torch_side
