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

#include "bench/graft_workloads.h"
#include "bench/torch_workloads.h"
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
