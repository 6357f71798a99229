// Example 2 of docs/seed-examples.md,
// ported to graft: the name-scope version.
//
// A name scope (tf.name_scope, graft's VariableScope) only changes names.
// With an unkeyed Variable inside it, every call still makes new variables
// for layer_0, layer_1, ...: graft's creation audit says so. The graft way is
// scope.variable(name, shape, init), get-or-create by path: growing the model
// from 1 to 3 layers creates the weights of layer_0, layer_1 and layer_2
// exactly once each and reuses them in every later call, so training works.
//
// Setting (as examples/seed_tape.cc): input [1, 10], 10x10 weights, loss
// mean(output^2), plain gradient descent with Variable::assign_sub.
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/vars/store.h"

using namespace graft;

namespace {

constexpr int kMaxLayers = 3;
constexpr int kSteps = 5;
constexpr double kLearningRate = 0.1;

Tensor normal_tensor(const Shape& shape, uint64_t seed, double stddev) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, stddev);
  return t;
}

uint64_t g_next_seed = 100;
std::vector<std::string> g_made;  // paths the name-scope model created in one call

// The seed's correct_dynamic_model: tf.name_scope(f"layer_{i}") around
// tf.Variable(..., name="weights"). Scoped names, but a new variable per call.
Tensor name_scope_model(Tensor input, int num_layers) {
  for (int i = 0; i < num_layers; ++i) {
    VariableScope layer("layer_" + std::to_string(i));
    Variable w(normal_tensor({10, 10}, g_next_seed++, 0.3), "weights");  // the site the audit reports
    g_made.push_back(w.path());
    input = matmul(input, w);
  }
  return input;
}

// The graft way: the same scoped names, with get-or-create by path.
Tensor dynamic_model(const Scope& root, Tensor input, int num_layers) {
  for (int i = 0; i < num_layers; ++i) {
    Scope layer = root.child("layer_" + std::to_string(i));
    Variable w = layer.variable("weights", {10, 10}, init::normal(0.0, 0.3));
    input = matmul(input, w);
  }
  return input;
}

// Runs one training step of `model` and prints the loss and what it created.
template <typename Model>
double train_step(VariableStore& store, Model model, std::map<std::string, int>& creations) {
  std::set<uint64_t> before;
  for (const Variable& v : store.variables()) before.insert(v.id());
  GradientTape tape;
  Tensor loss = mean(square(model()));
  std::vector<Variable> vars = store.trainable_variables();
  std::printf("  loss %.6f  variables at the gradient: %zu", loss.item<double>(), vars.size());
  bool any = false;
  for (const Variable& v : vars) {
    if (before.count(v.id()) == 0) {
      std::printf("%s %s", any ? "" : "  created:", v.path().c_str());
      ++creations[v.path()];
      any = true;
    }
  }
  std::printf("\n");
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

  std::printf("== scoped names alone (VariableScope + unkeyed Variable): no reuse\n");
  VariableStore scoped("name_scope", /*seed=*/7);
  scoped.set_audit_options(AuditOptions().threshold(2).strict(false).print_warnings(false));
  int made = 0;
  {
    VariableScope root(scoped.root());
    for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
      std::printf("num_layers=%d\n", num_layers);
      for (int step = 0; step < 2; ++step) {
        g_made.clear();
        std::map<std::string, int> creations;
        std::printf("  step %d", step);
        train_step(scoped, [&] { return name_scope_model(input, num_layers); }, creations);
        std::printf("    made and dropped by the call:");
        for (const std::string& path : g_made) std::printf(" %s", path.c_str());
        std::printf("\n");
        made += num_layers;
      }
    }
  }
  std::printf("%d variables made for at most %d layers; alive after the last call: %zu\n", made, kMaxLayers,
              scoped.size());
  for (const AuditReport& r : scoped.audit_reports()) std::printf("graft audit: %s\n", r.message.c_str());
  if (scoped.audit_reports().empty()) {
    std::printf("FAILED: the creation audit reported nothing\n");
    ok = false;
  }

  std::printf("\n== the graft way: scope.variable (get-or-create by path)\n");
  VariableStore store("seed", /*seed=*/7);
  std::map<std::string, int> creations;
  for (int num_layers = 1; num_layers <= kMaxLayers; ++num_layers) {
    std::printf("num_layers=%d\n", num_layers);
    double first = 0.0, last = 0.0;
    for (int step = 0; step < kSteps; ++step) {
      std::printf("  step %d", step);
      last = train_step(store, [&] { return dynamic_model(store.root(), input, num_layers); }, creations);
      if (step == 0) first = last;
    }
    std::printf("  loss fell from %.6f to %.6f\n", first, last);
    if (!(last < first)) {
      std::printf("FAILED: the loss did not fall with %d layers\n", num_layers);
      ok = false;
    }
  }
  std::printf("variables:");
  for (const Variable& v : store.variables()) std::printf(" %s%s", v.path().c_str(), v.shape().to_string().c_str());
  std::printf("\n");
  bool once = creations.size() == kMaxLayers;
  for (const auto& [path, count] : creations) once = once && count == 1;
  if (once && store.size() == kMaxLayers) {
    std::printf("layer_0, layer_1 and layer_2 weights created exactly once each, reused in every later call\n");
  } else {
    std::printf("FAILED: expected %d variables created once each, got %zu paths\n", kMaxLayers, creations.size());
    ok = false;
  }
  if (ok) std::printf("loss fell at every depth\n");
  return ok ? 0 : 1;
}
