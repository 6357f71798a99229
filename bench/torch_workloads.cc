#include "bench/torch_workloads.h"

#include <cblas.h>
#include <torch/torch.h>

#include <memory>

namespace graft::bench::torch_side {

void set_threads(int intra_op, int blas) {
  torch::set_num_threads(intra_op);
  // Debian's LibTorch calls OpenBLAS, whose pool is separate from OpenMP's;
  // set it last so torch::set_num_threads cannot override it.
  openblas_set_num_threads(blas);
}

std::function<void()> eager_add() {
  auto a = std::make_shared<torch::Tensor>(torch::full({1}, 1.5f));
  auto b = std::make_shared<torch::Tensor>(torch::full({1}, 2.5f));
  return [a, b] {
    torch::Tensor y = *a + *b;
    (void)y;
  };
}

std::function<void()> eager_add_tape() {
  auto a = std::make_shared<torch::Tensor>(torch::full({1}, 1.5f).requires_grad_());
  auto b = std::make_shared<torch::Tensor>(torch::full({1}, 2.5f).requires_grad_());
  return [a, b] {
    torch::Tensor y = *a + *b;
    auto grads = torch::autograd::grad({y}, {*a, *b});
    (void)grads;
  };
}

std::function<void()> sgemm(int64_t n) {
  auto a = std::make_shared<torch::Tensor>(torch::rand({n, n}) - 0.5);
  auto b = std::make_shared<torch::Tensor>(torch::rand({n, n}) - 0.5);
  return [a, b] {
    torch::NoGradGuard no_grad;
    torch::Tensor c = torch::mm(*a, *b);
    (void)c;
  };
}

namespace {

struct Mlp {
  torch::nn::Sequential net;
  std::unique_ptr<torch::optim::SGD> sgd;
  torch::Tensor x, labels;
};

}  // namespace

std::function<void()> mlp_step(const std::vector<int64_t>& widths, int64_t batch, float lr) {
  torch::manual_seed(1);
  auto m = std::make_shared<Mlp>();
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    m->net->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) m->net->push_back(torch::nn::ReLU());
  }
  m->sgd = std::make_unique<torch::optim::SGD>(m->net->parameters(), torch::optim::SGDOptions(lr));
  m->x = torch::rand({batch, widths.front()}) * 2 - 1;
  m->labels = torch::arange(batch).mul(7).remainder(widths.back());
  return [m] {
    m->sgd->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(m->net->forward(m->x), m->labels);
    loss.backward();
    m->sgd->step();
  };
}

}  // namespace graft::bench::torch_side
