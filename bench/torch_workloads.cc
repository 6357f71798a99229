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

std::function<void()> lstm_grad(int64_t input, int64_t hidden, int64_t time, int64_t batch) {
  torch::manual_seed(3);
  auto lstm = std::make_shared<torch::nn::LSTM>(torch::nn::LSTMOptions(input, hidden).batch_first(true));
  auto x = std::make_shared<torch::Tensor>(torch::rand({batch, time, input}) * 2 - 1);
  return [lstm, x] {
    auto out = (*lstm)->forward(*x);
    torch::Tensor h_last = std::get<0>(std::get<1>(out))[0];  // h_n [layers, batch, hidden] -> [batch, hidden]
    torch::Tensor loss = h_last.mean();
    auto grads = torch::autograd::grad({loss}, (*lstm)->parameters());
    (void)grads;
  };
}

namespace {

torch::nn::Sequential relu_mlp(const std::vector<int64_t>& widths) {
  torch::nn::Sequential net;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    net->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) net->push_back(torch::nn::ReLU());
  }
  return net;
}

struct Growth {
  torch::nn::Linear first{784, 256}, last{256, 10};
  torch::nn::Sequential net{first, torch::nn::ReLU(), last};
  std::unique_ptr<torch::optim::SGD> sgd;
  torch::Tensor x, labels;

  void step() {
    sgd->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), labels);
    loss.backward();
    sgd->step();
  }
};

}  // namespace

std::function<std::function<void()>()> growth_event(int64_t batch) {
  return [batch] {
    torch::manual_seed(1);
    auto g = std::make_shared<Growth>();
    g->sgd = std::make_unique<torch::optim::SGD>(g->net->parameters(), torch::optim::SGDOptions(0.01));
    g->x = torch::rand({batch, 784}) * 2 - 1;
    g->labels = torch::arange(batch).mul(7).remainder(10);
    for (int i = 0; i < 2; ++i) g->step();
    return std::function<void()>([g] {
      torch::nn::Linear added(256, 256);
      g->net = torch::nn::Sequential(g->first, torch::nn::ReLU(), added, torch::nn::ReLU(), g->last);
      g->sgd->add_param_group(torch::optim::OptimizerParamGroup(added->parameters()));
      g->step();
    });
  };
}

std::function<std::function<double()>()> fmnist_train(const float* images, const int64_t* labels, int64_t batch,
                                                       int steps) {
  const int64_t n = batch * steps;
  auto x = torch::from_blob(const_cast<float*>(images), {n, 784}, torch::kFloat32).clone();
  auto y = torch::from_blob(const_cast<int64_t*>(labels), {n}, torch::kInt64).clone();
  auto xs = std::make_shared<std::vector<torch::Tensor>>();
  auto ys = std::make_shared<std::vector<torch::Tensor>>();
  for (int s = 0; s < steps; ++s) {
    xs->push_back(x.narrow(0, s * batch, batch).contiguous());
    ys->push_back(y.narrow(0, s * batch, batch).contiguous());
  }
  return [xs, ys] {
    torch::manual_seed(1);
    torch::nn::Sequential net = relu_mlp({784, 256, 256, 10});
    auto adam = std::make_shared<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(1e-3));
    return std::function<double()>([xs, ys, net, adam]() mutable {
      torch::Tensor loss;
      for (size_t i = 0; i < xs->size(); ++i) {
        adam->zero_grad();
        loss = torch::nn::functional::cross_entropy(net->forward((*xs)[i]), (*ys)[i]);
        loss.backward();
        adam->step();
      }
      return loss.item<double>();
    });
  };
}

void fmnist_rss_job(const uint8_t* train, const int64_t* train_labels, int64_t n, const uint8_t* test, int64_t n_test,
                    float mean, float std, int steps, const std::function<void()>& release_bytes,
                    const std::function<void()>& first_step) {
  auto images = [&](const uint8_t* bytes, int64_t count) {
    torch::Tensor raw = torch::from_blob(const_cast<uint8_t*>(bytes), {count, 784}, torch::kUInt8);
    return raw.to(torch::kFloat32).div_(255.0f).sub_(mean).div_(std);
  };
  torch::Tensor x = images(train, n);
  torch::Tensor x_test = images(test, n_test);
  torch::Tensor y = torch::from_blob(const_cast<int64_t*>(train_labels), {n}, torch::kInt64).clone();
  release_bytes();
  torch::manual_seed(1);
  torch::nn::Sequential net = relu_mlp({784, 256, 256, 10});
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  constexpr int64_t batch = 128;
  torch::Tensor order = torch::randperm(n, torch::kInt64);
  for (int s = 0; s < steps; ++s) {
    const int64_t start = (s * batch) % (n - n % batch);
    torch::Tensor rows = order.narrow(0, start, batch);
    adam.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x.index_select(0, rows)), y.index_select(0, rows));
    loss.backward();
    adam.step();
    if (s == 0) first_step();
  }
  (void)x_test;
}

}  // namespace graft::bench::torch_side
