// graft_steps: runs one graft workload a fixed number of times, untimed, so
// instruction counts can be compared run to run on a busy machine:
//   valgrind --tool=callgrind build/bin/graft_steps compiled_mlp784_b256 20
// Workloads: mlp784_b256 (eager, bench/graft_workloads.h),
// compiled_mlp784_b256, compiled_mlp16_b8, eager_mlp784_b256 (the same
// nn::Sequential step run eagerly), lstm_h128_t32_b16 (compiled),
// fmnist_step (the fmnist_train step: compiled Adam, batch 128, on one
// random batch), growth_event (events on fresh models, setup included),
// conv_b64 (bench/conv_workloads.h), cnn_fmnist_step (the
// cnn_fmnist_train step of bench/cnn_workloads.h on 4 random batches of 64)
// and growth_events (builds that many models first, then runs one event on
// each in run_growth_events: the bench's timed part alone).
// Threads: 1 (GRAFT_NUM_THREADS is honoured).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cnn_workloads.h"
#include "bench/conv_workloads.h"
#include "bench/graft_compiled_workloads.h"

// growth_events' timed part, a function of its own so that callgrind can
// count it alone (--toggle-collect='run_growth_events*').
__attribute__((noinline)) void run_growth_events(std::vector<std::unique_ptr<graft::bench::GrowthEvent>>& events) {
  for (auto& e : events) (void)e->event();
}

int main(int argc, char** argv) {
  using namespace graft::bench;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <workload> <iterations>\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  const int iterations = std::atoi(argv[2]);
  std::function<void()> fn;
  std::shared_ptr<void> state;
  if (name == "mlp784_b256") {
    auto g = std::make_shared<GraftMlp>(std::vector<int64_t>{784, 256, 256, 10}, 256);
    fn = [g] { (void)g->step(); };
    state = g;
  } else if (name == "compiled_mlp784_b256" || name == "compiled_mlp16_b8" || name == "eager_mlp784_b256") {
    const bool big = name != "compiled_mlp16_b8";
    auto g = std::make_shared<CompiledMlp>(big ? std::vector<int64_t>{784, 256, 256, 10}
                                               : std::vector<int64_t>{16, 32, 32, 4},
                                           big ? 256 : 8);
    if (name == "eager_mlp784_b256") {
      fn = [g] { (void)g->eager_step(); };
    } else {
      fn = [g] { (void)g->compiled_step(); };
    }
    state = g;
  } else if (name == "lstm_h128_t32_b16") {
    auto g = std::make_shared<LstmGrad>(64, 128, 32, 16);
    fn = [g] { (void)g->compiled_step(); };
    state = g;
  } else if (name == "fmnist_step") {
    auto batches = std::make_shared<Batches>();
    batches->inputs.push_back(uniform({128, 784}, 1.0f, 7));
    batches->labels.push_back(cyclic_labels(128, 10));
    auto run = std::make_shared<FmnistTrain>(*batches);
    fn = [run] { (void)run->train(); };
    state = std::make_shared<std::pair<std::shared_ptr<Batches>, std::shared_ptr<FmnistTrain>>>(batches, run);
  } else if (name == "conv_b64") {
    auto g = std::make_shared<ConvLayerGrad>(64, 32, 64, 14, 3);
    fn = [g] { (void)g->step(); };
    state = g;
  } else if (name == "cnn_fmnist_step") {
    auto g = std::make_shared<CnnTrain>(uniform({4 * 64, 784}, 1.0f, 9), cyclic_labels(4 * 64, 10), 64, 4);
    fn = [g] { (void)g->step(); };
    state = g;
  } else if (name == "growth_event") {
    fn = [] { GrowthEvent(128).event(); };
  } else if (name == "growth_events") {
    std::vector<std::unique_ptr<GrowthEvent>> events;
    for (int i = 0; i < iterations; ++i) events.push_back(std::make_unique<GrowthEvent>(128));
    run_growth_events(events);
    return 0;
  } else {
    std::fprintf(stderr, "unknown workload '%s'\n", name.c_str());
    return 2;
  }
  for (int i = 0; i < iterations; ++i) fn();
  return 0;
}
