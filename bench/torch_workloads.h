// bench/torch_workloads.h: the LibTorch side of the comparison, behind an
// interface free of torch types (torch_workloads.cc is the only file that
// includes LibTorch's headers).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace graft::bench::torch_side {

// LibTorch's intra-op (OpenMP) threads and OpenBLAS's threads.
void set_threads(int intra_op, int blas);

// Each returns one iteration of the workload, with its state captured.
std::function<void()> eager_add();
std::function<void()> eager_add_tape();
std::function<void()> sgemm(int64_t n);
// MLP with relu, softmax cross-entropy, forward + backward + plain SGD.
std::function<void()> mlp_step(const std::vector<int64_t>& widths, int64_t batch, float lr = 0.01f);

// torch::nn::LSTM (batch_first) over x [batch, time, input]: loss = mean of
// the last h, torch::autograd::grad of every LSTM parameter.
std::function<void()> lstm_grad(int64_t input, int64_t hidden, int64_t time, int64_t batch);

// A growth event. Each call of the returned factory builds a 784-256-10
// model with SGD and runs two steps (untimed), and returns the event: a new
// Linear(256, 256) + ReLU placed after the first layer (a new nn::Sequential
// over the old layers: LibTorch's Sequential has no insert),
// optimizer.add_param_group with its parameters, and the first step.
std::function<std::function<void()>()> growth_event(int64_t batch);

// Fashion-MNIST training: the factory builds a fresh 784-256-256-10 relu MLP
// with Adam (lr 1e-3); the returned function trains one step on each of the
// `steps` batches (consecutive rows of `images` [n, 784] and `labels` [n],
// copied once, here) and returns the last loss.
std::function<std::function<double()>()> fmnist_train(const float* images, const int64_t* labels, int64_t batch,
                                                       int steps);

// LibTorch's side of rss_fmnist (bench/rss_fmnist.h), in its own process:
// float32 tensors of the training and test images made from their bytes
// (n x 784 and n_test x 784, scaled to [0, 1] and normalised with `mean` and
// `std`, as torch::data::datasets::MNIST holds them), then release_bytes(),
// then `steps` Adam steps on shuffled batches of 128 of a fresh
// 784-256-256-10 relu MLP, calling first_step() after the first.
void fmnist_rss_job(const uint8_t* train, const int64_t* train_labels, int64_t n, const uint8_t* test, int64_t n_test,
                    float mean, float std, int steps, const std::function<void()>& release_bytes,
                    const std::function<void()>& first_step);

}  // namespace graft::bench::torch_side
