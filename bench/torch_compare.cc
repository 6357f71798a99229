// The side-by-side comparison with LibTorch: runs every workload for graft
// and for LibTorch in one process and prints one line per workload and
// thread count:
//   bench <workload> threads=<n> graft=<v> libtorch=<v> unit=<u> speedup=<x>
// speedup is LibTorch's time over graft's (above 1: graft is faster). Times
// are the minimum over several repetitions of the mean time per iteration.
// sgemm_1024 also reports cblas_sgemm called directly (openblas=, and
// vs_openblas= as OpenBLAS's time over graft's).
//
// Thread settings: graft uses graft::set_num_threads(n) alone. LibTorch uses
// its best setting on n cores: 1 OpenMP thread and n OpenBLAS threads (its
// default of n of each makes the two pools fight).
//
// Usage: graft_torch_compare [--reps N] [--min-ms M] [--only WORKLOAD]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/graft_compiled_workloads.h"
#include "bench/graft_workloads.h"
#include "bench/torch_workloads.h"
#include "graft/io/fashion_mnist.h"
#include "graft/tensor/parallel.h"

namespace graft::bench {
namespace {

struct Timing {
  int reps = 7;          // repetitions; the minimum is reported
  double min_ms = 60.0;  // wall time of one repetition, at least
};

// Seconds per call of `fn`: the minimum over `reps` repetitions of the mean
// over enough calls to fill min_ms.
double seconds_per_call(const std::function<void()>& fn, const Timing& timing) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) fn();  // warm up caches and pools
  int64_t calls = 1;
  for (;;) {
    auto start = Clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (ms >= timing.min_ms / 4 || calls > (int64_t{1} << 30)) {
      calls = std::max<int64_t>(1, static_cast<int64_t>(calls * timing.min_ms / std::max(ms, 1e-3)));
      break;
    }
    calls *= 4;
  }
  double best = 1e300;
  for (int r = 0; r < timing.reps; ++r) {
    auto start = Clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    double s = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(calls);
    best = std::min(best, s);
  }
  return best;
}

struct Unit {
  const char* name;
  double per_second;
};
constexpr Unit kMicros{"us", 1e6};
constexpr Unit kMillis{"ms", 1e3};

void report(const char* workload, int threads, double graft_s, double torch_s, Unit unit,
            const std::string& extra = "") {
  std::printf("bench %s threads=%d graft=%.4g libtorch=%.4g unit=%s speedup=%.2f%s\n", workload, threads,
              graft_s * unit.per_second, torch_s * unit.per_second, unit.name, torch_s / graft_s, extra.c_str());
  std::fflush(stdout);
}

// Seconds of one event: make() prepares one (untimed) and returns it; the
// minimum over `reps` events, each on freshly prepared state.
template <typename Event>
double seconds_per_event(const std::function<Event()>& make, int reps) {
  using Clock = std::chrono::steady_clock;
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    Event event = make();
    auto start = Clock::now();
    event();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// " graft_eager=<v> vs_eager=<eager / graft>", appended to a compiled line.
std::string eager_keys(double compiled_s, double eager_s, double torch_s, Unit unit) {
  char extra[128];
  std::snprintf(extra, sizeof extra, " graft_eager=%.4g vs_eager=%.2f eager_speedup=%.2f", eager_s * unit.per_second,
                eager_s / compiled_s, torch_s / eager_s);
  return extra;
}

void use_graft(int threads) { set_num_threads(threads); }
void use_torch(int threads) {
  torch_side::set_threads(1, threads);
}

// Runs one workload at `threads` for both libraries.
void compare(const char* workload, int threads, const std::function<void()>& graft_fn,
             const std::function<void()>& torch_fn, Unit unit, const Timing& timing) {
  use_graft(threads);
  double g = seconds_per_call(graft_fn, timing);
  use_torch(threads);
  double t = seconds_per_call(torch_fn, timing);
  report(workload, threads, g, t, unit);
}

void run_all(const Timing& timing, const std::string& only) {
  auto wanted = [&](const char* name) { return only.empty() || only == name; };
  for (int threads : {1, 2}) {
    if (wanted("eager_add_1")) {
      GraftEagerAdd g;
      compare("eager_add_1", threads, [&] { (void)g.add_only(); }, torch_side::eager_add(), kMicros, timing);
    }
    if (wanted("eager_add_1_tape")) {
      GraftEagerAdd g;
      compare("eager_add_1_tape", threads, [&] { (void)g.add_with_tape(); }, torch_side::eager_add_tape(), kMicros,
              timing);
    }
    if (wanted("sgemm_1024")) {
      constexpr int n = 1024;
      Tensor a = uniform({n, n}, 1.0f, 1), b = uniform({n, n}, 1.0f, 2), c = Tensor::empty({n, n});
      use_graft(threads);
      double g = seconds_per_call([&] { (void)matmul(a, b); }, timing);
      double direct = seconds_per_call(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n,
                        b.data<float>(), n, 0.0f, c.data<float>(), n);
          },
          timing);
      use_torch(threads);
      double t = seconds_per_call(torch_side::sgemm(n), timing);
      char extra[96];
      std::snprintf(extra, sizeof extra, " openblas=%.4g vs_openblas=%.3f", direct * kMillis.per_second, direct / g);
      report("sgemm_1024", threads, g, t, kMillis, extra);
    }
    struct MlpCase {
      const char* name;
      std::vector<int64_t> widths;
      int64_t batch;
      Unit unit;
    };
    for (const MlpCase& c : {MlpCase{"mlp784_b256", {784, 256, 256, 10}, 256, kMillis},
                             MlpCase{"mlp784_b32", {784, 256, 256, 10}, 32, kMillis},
                             MlpCase{"mlp16_b8", {16, 32, 32, 4}, 8, kMicros}}) {
      if (!wanted(c.name)) continue;
      GraftMlp g(c.widths, c.batch);
      compare(c.name, threads, [&] { (void)g.step(); }, torch_side::mlp_step(c.widths, c.batch), c.unit, timing);
    }
    for (const MlpCase& c : {MlpCase{"compiled_mlp16_b8", {16, 32, 32, 4}, 8, kMicros},
                             MlpCase{"compiled_mlp784_b256", {784, 256, 256, 10}, 256, kMillis}}) {
      if (!wanted(c.name)) continue;
      CompiledMlp g(c.widths, c.batch);
      use_graft(threads);
      double compiled = seconds_per_call([&] { (void)g.compiled_step(); }, timing);
      double eager = seconds_per_call([&] { (void)g.eager_step(); }, timing);
      use_torch(threads);
      double t = seconds_per_call(torch_side::mlp_step(c.widths, c.batch), timing);
      report(c.name, threads, compiled, t, c.unit, eager_keys(compiled, eager, t, c.unit));
    }
    if (wanted("lstm_h128_t32_b16")) {
      LstmGrad g(64, 128, 32, 16);
      use_graft(threads);
      double compiled = seconds_per_call([&] { (void)g.compiled_step(); }, timing);
      double eager = seconds_per_call([&] { (void)g.eager_step(); }, timing);
      use_torch(threads);
      double t = seconds_per_call(torch_side::lstm_grad(64, 128, 32, 16), timing);
      report("lstm_h128_t32_b16", threads, compiled, t, kMillis, eager_keys(compiled, eager, t, kMillis));
    }
    if (wanted("growth_event")) {
      constexpr int64_t batch = 128;
      const int reps = std::max(timing.reps, 15);
      use_graft(threads);
      double g = seconds_per_event<std::function<void()>>(
          [] {
            auto event = std::make_shared<GrowthEvent>(int64_t{batch});
            return std::function<void()>([event] { (void)event->event(); });
          },
          reps);
      use_torch(threads);
      double t = seconds_per_event(torch_side::growth_event(batch), reps);
      report("growth_event", threads, g, t, kMillis);
    }
    if (wanted("fmnist_train")) {
      constexpr int64_t batch = 128;
      constexpr int steps = 200;
      const int reps = std::max(1, timing.reps / 2);
      static const io::Dataset train = io::load_fashion_mnist(io::Split::kTrain, io::FashionMnistOptions().normalize(true));
      Batches batches = split_batches(train.images, train.labels, batch, steps);
      double graft_loss = 0, torch_loss = 0;
      use_graft(threads);
      double g = seconds_per_event<std::function<void()>>(
          [&] {
            auto run = std::make_shared<FmnistTrain>(batches);
            return std::function<void()>([run, &graft_loss] { graft_loss = run->train(); });
          },
          reps);
      use_torch(threads);
      auto make_torch = torch_side::fmnist_train(train.images.data<float>(), train.labels.data<int64_t>(), batch, steps);
      double t = seconds_per_event<std::function<void()>>(
          [&] {
            auto run = make_torch();
            return std::function<void()>([run, &torch_loss] { torch_loss = run(); });
          },
          reps);
      const double samples = static_cast<double>(batch * steps);
      std::printf("bench fmnist_train threads=%d graft=%.0f libtorch=%.0f unit=samples/s speedup=%.2f steps=%d "
                  "graft_loss=%.4f libtorch_loss=%.4f\n",
                  threads, samples / g, samples / t, t / g, steps, graft_loss, torch_loss);
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace graft::bench

int main(int argc, char** argv) {
  graft::bench::Timing timing;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0) {
      timing.reps = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--min-ms") == 0) {
      timing.min_ms = std::max(1.0, std::atof(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--only") == 0) {
      only = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--min-ms M] [--only WORKLOAD]\n", argv[0]);
      return 2;
    }
  }
  graft::bench::run_all(timing, only);
  return 0;
}
