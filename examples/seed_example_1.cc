// Example 1 of docs/seed-examples.md,
// ported to graft: the faulty dynamic model that makes a new "weights"
// variable per layer per call.
//
// In TensorFlow 2 this does not raise: each call silently makes fresh random
// weights, the tape's gradient goes to weights that are already gone, and
// training does nothing. graft's creation audit sees the same site make a new
// variable on every call while the previous one is dropped, and reports it
// with file:line and the fix. The second half is that fix done with graft's
// layers: a Sequential of bias-free 10x10 Linear layers that grows from 1 to
// 3 layers, whose weights are created once each, by path, and trained.
//
// Setting (as examples/seed_tape.cc): input [1, 10], 10x10 weights, loss
// mean(output^2), plain gradient descent with Variable::assign_sub.
#include <cstdio>
#include <string>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

using namespace graft;

namespace {

constexpr int kMaxLayers = 3;
constexpr int kSteps = 5;
constexpr double kLearningRate = 0.05;

Tensor normal_tensor(const Shape& shape, uint64_t seed, double stddev) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, stddev);
  return t;
}

uint64_t g_next_seed = 100;
std::vector<std::string> g_created;

// The seed's faulty_dynamic_model: tf.Variable(tf.random.normal([10, 10]),
// name="weights") inside the loop, so every call makes new variables.
Tensor faulty_dynamic_model(Tensor input, int num_layers) {
  Tensor output;
  for (int i = 0; i < num_layers; ++i) {
    Variable w(normal_tensor({10, 10}, g_next_seed++, 0.3), "weights");  // the site the audit reports
    g_created.push_back(w.path());
    output = matmul(input, w);
    input = output;
  }
  return output;
}

// Plain gradient descent on every trainable variable of `store`.
double gradient_descent_step(const std::vector<Variable>& vars, GradientTape& tape, const Tensor& loss) {
  auto grads = tape.gradient(loss, vars);
  for (size_t i = 0; i < vars.size(); ++i) {
    if (grads[i]) vars[i].assign_sub(*grads[i] * kLearningRate);
  }
  return loss.item<double>();
}

}  // namespace

int main() {
  const Tensor input = normal_tensor({1, 10}, /*seed=*/1, 1.0);
  bool ok = true;

  std::printf("== the seed's faulty model: a new unkeyed 'weights' Variable per layer per call\n");
  VariableStore faulty("faulty", /*seed=*/7);
  faulty.set_audit_options(AuditOptions().threshold(2).strict(false).print_warnings(false));
  {
    VariableScope scope(faulty.root());  // where unkeyed variables go
    for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
      std::printf("num_layers=%d\n", num_layers);
      for (int step = 0; step < kSteps; ++step) {
        g_created.clear();
        GradientTape tape;
        Tensor loss = mean(square(faulty_dynamic_model(input, num_layers)));
        // The seed asks faulty_dynamic_model.variables: what is alive now.
        std::vector<Variable> vars = faulty.trainable_variables();
        double value = gradient_descent_step(vars, tape, loss);
        std::printf("  step %d loss %.6f  created:", step, value);
        for (const std::string& path : g_created) std::printf(" %s", path.c_str());
        std::printf("  alive when the gradient is taken: %zu\n", vars.size());
      }
    }
  }
  std::vector<AuditReport> reports = faulty.audit_reports();
  for (const AuditReport& r : reports) std::printf("graft audit: %s\n", r.message.c_str());
  if (reports.empty()) {
    std::printf("FAILED: the creation audit reported nothing\n");
    ok = false;
  }

  std::printf("\n== the fix with graft's layers: weights created once by path, then trained\n");
  nn::Sequential model("seed");
  model.set_seed(7);
  for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
    model.add(nn::Linear(nn::LinearOptions(10).bias(false).kernel_init(init::normal(0.0, 0.3))));
    std::printf("num_layers=%d\n", num_layers);
    double first = 0.0, last = 0.0;
    for (int step = 0; step < kSteps; ++step) {
      const size_t before = model.variables().size();
      GradientTape tape;
      Tensor loss = mean(square(model(input)));
      std::vector<Variable> vars = model.trainable_variables();
      last = gradient_descent_step(vars, tape, loss);
      if (step == 0) first = last;
      std::printf("  step %d loss %.6f  created:", step, last);
      for (size_t i = before; i < vars.size(); ++i) std::printf(" %s", vars[i].path().c_str());
      std::printf("\n");
    }
    std::printf("  loss fell from %.6f to %.6f\n", first, last);
    if (!(last < first)) {
      std::printf("FAILED: the loss did not fall with %d layers\n", num_layers);
      ok = false;
    }
  }
  std::printf("%s", model.summary().c_str());
  if (ok) std::printf("loss fell at every depth\n");
  return ok ? 0 : 1;
}
