// An LSTM over sequences of varying length inside a compiled training step.
//
// The sequence length is part of the input's shape, so graft::function
// captures once per distinct length and replays afterwards; the LSTM's
// weights are created once (by path) and shared by every length and every
// time step. The task: read a sequence of numbers and predict their mean.
#include <cstdio>
#include <set>

#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/nn/lstm.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/tensor/random.h"
#include "graft/trace/function.h"

using namespace graft;

int main() {
  nn::Sequential model("seq");  // an LSTM, then a linear read-out
  model.set_seed(5);
  model.add(nn::LSTM(nn::LSTMOptions(16)));
  model.add(nn::Linear(nn::LinearOptions(1)));
  optim::Adam adam(optim::AdamOptions(0.01));

  auto train_step = function(
      [&](const Tensor& x, const Tensor& y) {
        GradientTape tape;
        Tensor loss = mse_loss(model(x), y);
        auto vars = model.trainable_variables();
        adam.apply_gradients(vars, tape.gradient(loss, vars));
        return loss;
      },
      FunctionOptions().name("lstm_step"));

  const int64_t batch = 16;
  const int64_t lengths[] = {5, 8, 12};
  std::set<size_t> variable_counts;
  double first = 0, last = 0;
  for (int round = 0; round < 60; ++round) {
    int64_t t = lengths[round % 3];
    Tensor x = Tensor::empty({batch, t, 1});
    fill_uniform(x.data<float>(), x.numel(), /*seed=*/static_cast<uint64_t>(round), -1.0, 1.0);
    Tensor y = mean(x, {1});  // [batch, 1]
    double loss = train_step(x, y).item<double>();
    if (round < 3) first += loss / 3;
    if (round >= 57) last += loss / 3;
    variable_counts.insert(model.variables().size());
    if (round % 10 == 0) std::printf("round %2d length %2lld loss %.5f\n", round, static_cast<long long>(t), loss);
  }
  std::printf("variables: %zu (the same at every length: %s)\n", model.variables().size(),
              variable_counts.size() == 1 ? "yes" : "no");
  for (const Variable& v : model.variables()) std::printf("  %s %s\n", v.path().c_str(), v.shape().to_string().c_str());
  std::printf("loss %.5f -> %.5f\n%s", first, last, train_step.explain().c_str());
  return variable_counts.size() == 1 && last < first ? 0 : 1;
}
