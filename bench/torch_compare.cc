// The side-by-side comparison with LibTorch: runs every workload for graft
// and for LibTorch in one process and prints one line per workload and
// thread count:
//   bench <workload> threads=<n> graft=<v> libtorch=<v> unit=<u> speedup=<x>
// speedup is LibTorch's time over graft's (above 1: graft is faster). Times
// are the minimum over several repetitions of the mean time per iteration;
// the repetitions of graft and LibTorch alternate, so load from other
// processes falls on both, and speedup is the median of the ratios of
// back-to-back repetitions (Times::paired_ratio), not the ratio of the two
// printed best times (growth_event's and fmnist_train's, which time single
// events, are ratios of the best ones). Workloads that go through graft::function add
// graft_eager= (the same step run eagerly), vs_eager= (eager / compiled) and
// eager_speedup= (LibTorch / eager). growth_event times single events on
// freshly built models; fmnist_train reports samples/s (speedup is graft's
// rate over LibTorch's) and each side's final loss.
// sgemm_1024 also reports cblas_sgemm called directly (openblas=, and
// vs_openblas= as OpenBLAS's time over graft's). MLP workloads add floor=
// (the step's matrix products alone, cblas_sgemm on the same shapes in the
// same run, bench/blas_floor.h) and of_floor= (floor / graft's time: 1 is a
// step that costs nothing beyond its matmuls); fmnist_train's floor is per
// step, in milliseconds. vs_eager=, of_floor= and vs_openblas= are paired
// as speedup is. threads_mlp784_b256 prints, for the mlp784_b256 step, each
// side's 2-thread time as a fraction of its 1-thread time (paired the same
// way; floor= is the floor's fraction, cores= that of work which touches no
// memory, the machine's own limit; speedup= is LibTorch's over graft's).
//
// Thread settings: graft uses graft::set_num_threads(n) alone. LibTorch uses
// its best setting on n cores: 1 OpenMP thread and n OpenBLAS threads (its
// default of n of each makes the two pools fight); for conv_b64, whose
// convolutions run on the OpenMP pool (oneDNN), the faster of that and n
// OpenMP threads with 1 OpenBLAS thread, named by libtorch_threads=.
//
// rss_fmnist runs each side's Fashion-MNIST job in a process of its own and
// reports peak RSS in MB (speedup= is LibTorch's peak over graft's) and the
// time from starting the process to the end of its first step
// (bench/rss_fmnist.h).
//
// Usage: graft_torch_compare [--reps N] [--min-ms M] [--only WORKLOAD] [--clock cpu]
// --clock cpu times the process's CPU time instead of wall time: on a machine
// loaded by other processes it moves far less, and at one thread it is the
// step's own time (at n threads it sums the threads' time, spinning
// included, so compare only 1-thread lines that way).
//        graft_torch_compare --rss-child <threads> <steps> <start_ns>  (LibTorch's rss_fmnist job)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/blas_floor.h"
#include "bench/cnn_workloads.h"
#include "bench/cnn_workloads_torch.h"
#include "bench/conv_workloads.h"
#include "bench/conv_workloads_torch.h"
#include "bench/graft_compiled_workloads.h"
#include "bench/graft_workloads.h"
#include "bench/rss_fmnist.h"
#include "bench/torch_workloads.h"
#include "graft/io/fashion_mnist.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"

namespace graft::bench {
namespace {

struct Timing {
  int reps = 7;            // repetitions; the minimum is reported
  double min_ms = 60.0;    // wall time of one repetition, at least
  bool cpu_time = false;   // time the process's CPU time instead (--clock cpu)
};

// Seconds on the clock `timing` names: steady wall time, or this process's
// CPU time.
double now_s(const Timing& timing) {
  if (timing.cpu_time) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One contender in a timed comparison: `use` applies its thread settings.
struct Contender {
  std::function<void()> fn;
  std::function<void()> use;
};

// Seconds per call of each contender in every repetition: reps[c][r].
struct Times {
  std::vector<std::vector<double>> reps;

  // The best repetition of the fastest of contenders `cs`.
  double best(std::initializer_list<size_t> cs) const {
    double out = 1e300;
    for (size_t c : cs) out = std::min(out, *std::min_element(reps[c].begin(), reps[c].end()));
    return out;
  }
  double best(size_t c) const { return best({c}); }
  // The median over repetitions r of min over `nums` of reps[num][r], over
  // reps[den][r]: each ratio compares timings taken back to back, so a VM
  // whose speed drifts by 20-40% over minutes (BENCHMARKS.md) moves both
  // sides of it alike, where a ratio of two best repetitions can pair a fast
  // moment with a slow one.
  double paired_ratio(std::initializer_list<size_t> nums, size_t den) const {
    std::vector<double> r;
    for (size_t i = 0; i < reps[den].size(); ++i) {
      double num = 1e300;
      for (size_t c : nums) num = std::min(num, reps[c][i]);
      r.push_back(num / reps[den][i]);
    }
    std::sort(r.begin(), r.end());
    const size_t n = r.size();
    return n % 2 == 1 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
  }
  double paired_ratio(size_t num, size_t den) const { return paired_ratio({num}, den); }
};

// Seconds per call of each contender: the mean over enough calls to fill
// min_ms, in each of `reps` repetitions. Repetitions alternate between the
// contenders, so a burst of load from other processes on a shared machine
// hits all of them rather than one.
Times timed_reps(const std::vector<Contender>& contenders, const Timing& timing) {
  std::vector<int64_t> calls(contenders.size(), 1);
  for (size_t c = 0; c < contenders.size(); ++c) {
    const Contender& k = contenders[c];
    k.use();
    for (int i = 0; i < 3; ++i) k.fn();  // warm up caches and pools
    for (;;) {
      const double start = now_s(timing);
      for (int64_t i = 0; i < calls[c]; ++i) k.fn();
      const double ms = 1e3 * (now_s(timing) - start);
      if (ms >= timing.min_ms / 4 || calls[c] > (int64_t{1} << 30)) {
        calls[c] = std::max<int64_t>(1, static_cast<int64_t>(calls[c] * timing.min_ms / std::max(ms, 1e-3)));
        break;
      }
      calls[c] *= 4;
    }
  }
  Times times;
  times.reps.resize(contenders.size());
  for (int r = 0; r < timing.reps; ++r) {
    for (size_t c = 0; c < contenders.size(); ++c) {
      contenders[c].use();
      const double start = now_s(timing);
      for (int64_t i = 0; i < calls[c]; ++i) contenders[c].fn();
      times.reps[c].push_back((now_s(timing) - start) / static_cast<double>(calls[c]));
    }
  }
  return times;
}

// Each contender's best repetition (the minimum over `reps` of the mean time
// per call).
std::vector<double> seconds_per_call(const std::vector<Contender>& contenders, const Timing& timing) {
  Times times = timed_reps(contenders, timing);
  std::vector<double> best;
  for (size_t c = 0; c < contenders.size(); ++c) best.push_back(times.best(c));
  return best;
}

struct Unit {
  const char* name;
  double per_second;
};
constexpr Unit kMicros{"us", 1e6};
constexpr Unit kMillis{"ms", 1e3};

void report(const char* workload, int threads, double graft_s, double torch_s, double speedup, Unit unit,
            const std::string& extra = "") {
  std::printf("bench %s threads=%d graft=%.4g libtorch=%.4g unit=%s speedup=%.2f%s\n", workload, threads,
              graft_s * unit.per_second, torch_s * unit.per_second, unit.name, speedup, extra.c_str());
  std::fflush(stdout);
}
// A line from repetitions: graft's and LibTorch's best (the faster of
// `torch` settings), speedup paired (Times::paired_ratio).
void report(const char* workload, int threads, const Times& t, size_t graft, std::initializer_list<size_t> torch,
            Unit unit, const std::string& extra = "") {
  report(workload, threads, t.best(graft), t.best(torch), t.paired_ratio(torch, graft), unit, extra);
}

// Seconds of one event for each contender: make() prepares one (untimed,
// after use()) and returns it; the minimum over `reps` events, each on
// freshly prepared state, alternating between the contenders.
struct EventContender {
  std::function<std::function<void()>()> make;
  std::function<void()> use;
};
std::vector<double> seconds_per_event(const std::vector<EventContender>& contenders, int reps) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> best(contenders.size(), 1e300);
  for (int r = 0; r < reps; ++r) {
    for (size_t c = 0; c < contenders.size(); ++c) {
      contenders[c].use();
      std::function<void()> event = contenders[c].make();
      auto start = Clock::now();
      event();
      best[c] = std::min(best[c], std::chrono::duration<double>(Clock::now() - start).count());
    }
  }
  return best;
}

// " graft_eager=<v> vs_eager=<eager / compiled> eager_speedup=<torch / eager>",
// appended to a compiled line; vs_eager pairs repetitions (Times::paired_ratio).
std::string eager_keys(const Times& t, size_t compiled, size_t eager, size_t torch, Unit unit) {
  char extra[128];
  std::snprintf(extra, sizeof extra, " graft_eager=%.4g vs_eager=%.2f eager_speedup=%.2f",
                t.best(eager) * unit.per_second, t.paired_ratio(eager, compiled), t.best(torch) / t.best(eager));
  return extra;
}

// " floor=<v> of_floor=<floor / graft>", appended to an MLP line; of_floor
// pairs repetitions (Times::paired_ratio).
std::string floor_keys(const Times& t, size_t floor, size_t graft, Unit unit) {
  char extra[96];
  std::snprintf(extra, sizeof extra, " floor=%.4g of_floor=%.3f", t.best(floor) * unit.per_second,
                t.paired_ratio(floor, graft));
  return extra;
}

// Whose threads ran last, and whether more than one. An idle pool keeps its
// workers spinning for a while before they sleep: OpenBLAS's for about 2^28
// cycles (0.1 s here) after its last threaded product, libgomp's and graft's
// for well under a millisecond. On two cores a contender timed while the
// previous one's workers still spin shares its second core with them (graft
// at 2 threads right after OpenBLAS at 2 ran its step at 1.1x its 1-thread
// time instead of 0.66x), so a switch away from a threaded pool first waits
// its spin out: each library is timed as it runs alone.
enum class Pool { kGraft, kOpenBlas, kOpenMp };
void switch_pool(Pool next, int threads) {
  static std::optional<Pool> last_threaded;
  if (last_threaded && *last_threaded != next) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  last_threaded.reset();
  if (threads > 1) last_threaded = next;
}

void use_graft(int threads) {
  switch_pool(Pool::kGraft, threads);
  set_num_threads(threads);
}

// Work that reads and writes no memory: independent multiply-add chains held
// in registers, split into two halves run on graft's pool. Its 2-thread time
// over its 1-thread time is the most any step can gain from the second core
// of this machine (threads_mlp784_b256's cores=).
void register_chains(float* sinks) {
  constexpr int64_t kIterations = 1 << 17;  // about 1 ms at one thread
  // Read at run time, so the compiler cannot fold the chains into constants.
  static volatile float scale = 0.9999999f, shift = 1e-7f;
  parallel_for(0, 2, 1, [sinks](int64_t first, int64_t last) {
    const float m = scale, c = shift;
    for (int64_t half = first; half < last; ++half) {
      float acc[16];
      for (int i = 0; i < 16; ++i) acc[i] = 1.0f + static_cast<float>(i) * c;
      for (int64_t n = 0; n < kIterations; ++n) {
        for (float& a : acc) a = a * m + c;
      }
      float sum = 0;
      for (float a : acc) sum += a;
      sinks[half] = sum;
    }
  });
}
// cblas_sgemm called directly, with OpenBLAS's own threads (graft keeps them
// at 1 and splits products over its pool).
void use_openblas(int threads) {
  switch_pool(Pool::kOpenBlas, threads);
  set_num_threads(threads);
  openblas_set_num_threads(threads);
}
// LibTorch with `intra_op` OpenMP threads and `blas` OpenBLAS threads.
void use_torch(int intra_op, int blas) {
  switch_pool(intra_op > 1 ? Pool::kOpenMp : Pool::kOpenBlas, std::max(intra_op, blas));
  torch_side::set_threads(intra_op, blas);
}
// LibTorch's best setting for products on n cores (see the top).
void use_torch(int threads) { use_torch(1, threads); }

// Runs one workload at `threads` for both libraries.
void compare(const char* workload, int threads, const std::function<void()>& graft_fn,
             const std::function<void()>& torch_fn, Unit unit, const Timing& timing) {
  Times t = timed_reps({{graft_fn, [threads] { use_graft(threads); }}, {torch_fn, [threads] { use_torch(threads); }}},
                       timing);
  report(workload, threads, t, 0, {1}, unit);
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
      auto graft_threads = [threads] { use_graft(threads); };
      Times t = timed_reps({{[&] { (void)matmul(a, b); }, graft_threads},
                            {[&] {
                               cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(),
                                           n, b.data<float>(), n, 0.0f, c.data<float>(), n);
                             },
                             [threads] { use_openblas(threads); }},
                            {torch_side::sgemm(n), [threads] { use_torch(threads); }}},
                           timing);
      char extra[96];
      std::snprintf(extra, sizeof extra, " openblas=%.4g vs_openblas=%.3f", t.best(1) * kMillis.per_second,
                    t.paired_ratio(1, 0));
      report("sgemm_1024", threads, t, 0, {2}, kMillis, extra);
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
      SgemmSequence floor(mlp_step_matmuls(c.widths, c.batch));
      auto graft_threads = [threads] { use_graft(threads); };
      Times t = timed_reps({{[&] { (void)g.step(); }, graft_threads},
                            {torch_side::mlp_step(c.widths, c.batch), [threads] { use_torch(threads); }},
                            {[&] { floor.run(); }, [threads] { use_openblas(threads); }}},
                           timing);
      report(c.name, threads, t, 0, {1}, c.unit, floor_keys(t, 2, 0, c.unit));
    }
    if (threads == 2 && wanted("threads_mlp784_b256")) {
      // Issue 11's scaling bar: the mlp784_b256 step's time at 2 threads as
      // a fraction of its time at 1, each side's two settings in paired
      // repetitions (Times::paired_ratio), with the floor's own fraction.
      const std::vector<int64_t> widths{784, 256, 256, 10};
      GraftMlp g(widths, 256);
      SgemmSequence floor(mlp_step_matmuls(widths, 256));
      auto torch_step = torch_side::mlp_step(widths, 256);
      float sinks[2];
      Times t = timed_reps({{[&] { (void)g.step(); }, [] { use_graft(1); }},
                            {[&] { (void)g.step(); }, [] { use_graft(2); }},
                            {torch_step, [] { use_torch(1); }},
                            {torch_step, [] { use_torch(2); }},
                            {[&] { floor.run(); }, [] { use_openblas(1); }},
                            {[&] { floor.run(); }, [] { use_openblas(2); }},
                            {[&] { register_chains(sinks); }, [] { use_graft(1); }},
                            {[&] { register_chains(sinks); }, [] { use_graft(2); }}},
                           timing);
      const double graft_ratio = t.paired_ratio(1, 0), torch_ratio = t.paired_ratio(3, 2);
      std::printf("bench threads_mlp784_b256 threads=2 graft=%.3f libtorch=%.3f unit=of_1_thread speedup=%.2f "
                  "floor=%.3f cores=%.3f\n",
                  graft_ratio, torch_ratio, torch_ratio / graft_ratio, t.paired_ratio(5, 4), t.paired_ratio(7, 6));
      std::fflush(stdout);
    }
    for (const MlpCase& c : {MlpCase{"compiled_mlp16_b8", {16, 32, 32, 4}, 8, kMicros},
                             MlpCase{"compiled_mlp784_b256", {784, 256, 256, 10}, 256, kMillis}}) {
      if (!wanted(c.name)) continue;
      CompiledMlp g(c.widths, c.batch);
      SgemmSequence floor(mlp_step_matmuls(c.widths, c.batch));
      auto graft_threads = [threads] { use_graft(threads); };
      Times t = timed_reps({{[&] { (void)g.compiled_step(); }, graft_threads},
                            {[&] { (void)g.eager_step(); }, graft_threads},
                            {torch_side::mlp_step(c.widths, c.batch), [threads] { use_torch(threads); }},
                            {[&] { floor.run(); }, [threads] { use_openblas(threads); }}},
                           timing);
      report(c.name, threads, t, 0, {2}, c.unit, eager_keys(t, 0, 1, 2, c.unit) + floor_keys(t, 3, 0, c.unit));
    }
    if (wanted("lstm_h128_t32_b16")) {
      LstmGrad g(64, 128, 32, 16);
      auto graft_threads = [threads] { use_graft(threads); };
      Times t = timed_reps({{[&] { (void)g.compiled_step(); }, graft_threads},
                            {[&] { (void)g.eager_step(); }, graft_threads},
                            {torch_side::lstm_grad(64, 128, 32, 16), [threads] { use_torch(threads); }}},
                           timing);
      report("lstm_h128_t32_b16", threads, t, 0, {2}, kMillis, eager_keys(t, 0, 1, 2, kMillis));
    }
    if (wanted("conv_b64")) {
      // LibTorch's convolutions run on its OpenMP pool: both splits of the
      // cores are timed and the faster one is reported (libtorch_threads=).
      ConvLayerGrad g(64, 32, 64, 14, 3);
      Times t = timed_reps({{[&] { (void)g.step(); }, [threads] { use_graft(threads); }},
                            {torch_side::conv_layer_grad(64, 32, 64, 14, 3), [threads] { use_torch(threads, 1); }},
                            {torch_side::conv_layer_grad(64, 32, 64, 14, 3), [threads] { use_torch(threads); }}},
                           timing);
      report("conv_b64", threads, t, 0, {1, 2}, kMillis,
             t.best(1) <= t.best(2) ? " libtorch_threads=openmp" : " libtorch_threads=openblas");
    }
    if (wanted("cnn_fmnist_train")) {
      // As conv_b64: both splits of the cores for LibTorch, the faster reported.
      static const io::Dataset train =
          io::load_fashion_mnist(io::Split::kTrain, io::FashionMnistOptions().normalize(true));
      const Tensor images = train.images.range(0, 64 * 16);  // the rows both sides use, as float32
      CnnTrain g(images, train.labels, 64, 16);
      auto t = [&] { return torch_side::cnn_fmnist_train(images.data<float>(), train.labels.data<int64_t>(), 64, 16); };
      Times s = timed_reps({{[&] { (void)g.step(); }, [threads] { use_graft(threads); }},
                            {t(), [threads] { use_torch(threads, 1); }},
                            {t(), [threads] { use_torch(threads); }}},
                           timing);
      report("cnn_fmnist_train", threads, s, 0, {1, 2}, kMillis,
             s.best(1) <= s.best(2) ? " libtorch_threads=openmp" : " libtorch_threads=openblas");
    }
    if (wanted("growth_event")) {
      constexpr int64_t batch = 128;
      std::vector<double> s = seconds_per_event(
          {{[] {
              auto event = std::make_shared<GrowthEvent>(int64_t{batch});
              return std::function<void()>([event] { (void)event->event(); });
            },
            [threads] { use_graft(threads); }},
           {torch_side::growth_event(batch), [threads] { use_torch(threads); }}},
          std::max(timing.reps, 15));
      report("growth_event", threads, s[0], s[1], s[1] / s[0], kMillis);
    }
    if (wanted("rss_fmnist")) {
      constexpr int steps = 50;
      const std::string dir = program_dir();
      ChildRun g, t;
      // The peak is the same every run; the start-up time is the best of three.
      for (int r = 0; r < 3; ++r) {
        ChildRun gr = run_child({dir + "/graft_rss_fmnist", std::to_string(threads), std::to_string(steps)});
        ChildRun tr = run_child({dir + "/graft_torch_compare", "--rss-child", std::to_string(threads),
                                 std::to_string(steps)});
        if (!gr.ok || !tr.ok) {
          std::fprintf(stderr, "rss_fmnist: a child job failed (graft %s, LibTorch %s)\n", gr.ok ? "ok" : "failed",
                       tr.ok ? "ok" : "failed");
          break;
        }
        if (r == 0 || gr.first_step_ms < g.first_step_ms) g = gr;
        if (r == 0 || tr.first_step_ms < t.first_step_ms) t = tr;
      }
      if (g.ok && t.ok) {
        std::printf("bench rss_fmnist threads=%d graft=%.1f libtorch=%.1f unit=MB speedup=%.2f "
                    "graft_first_step_ms=%.1f libtorch_first_step_ms=%.1f steps=%d\n",
                    threads, g.peak_mb, t.peak_mb, t.peak_mb / g.peak_mb, g.first_step_ms, t.first_step_ms, steps);
        std::fflush(stdout);
      }
    }
    if (wanted("fmnist_train")) {
      constexpr int64_t batch = 128;
      constexpr int steps = 200;
      static const io::Dataset train =
          io::load_fashion_mnist(io::Split::kTrain, io::FashionMnistOptions().normalize(true));
      static const Tensor images = train.images.range(0, batch * steps);  // float32, as both sides train on
      Batches batches = split_batches(images, train.labels, batch, steps);
      auto make_torch = torch_side::fmnist_train(images.data<float>(), train.labels.data<int64_t>(), batch, steps);
      double graft_loss = 0, torch_loss = 0;
      std::vector<double> s = seconds_per_event(
          {{[&] {
              auto run = std::make_shared<FmnistTrain>(batches);
              return std::function<void()>([run, &graft_loss] { graft_loss = run->train(); });
            },
            [threads] { use_graft(threads); }},
           {[&] {
              auto run = make_torch();
              return std::function<void()>([run, &torch_loss] { torch_loss = run(); });
            },
            [threads] { use_torch(threads); }}},
          std::max(1, (timing.reps + 1) / 2));
      SgemmSequence floor(mlp_step_matmuls({784, 256, 256, 10}, batch));
      const double floor_s = seconds_per_call({{[&] { floor.run(); }, [threads] { use_openblas(threads); }}}, timing)[0];
      const double samples = static_cast<double>(batch * steps);
      std::printf("bench fmnist_train threads=%d graft=%.0f libtorch=%.0f unit=samples/s speedup=%.2f steps=%d "
                  "graft_loss=%.4f libtorch_loss=%.4f floor=%.4g of_floor=%.3f\n",
                  threads, samples / s[0], samples / s[1], s[1] / s[0], steps, graft_loss, torch_loss,
                  floor_s * kMillis.per_second, floor_s * steps / s[0]);
      std::fflush(stdout);
    }
  }
}

// LibTorch's rss_fmnist job (bench/rss_fmnist.h), in this process.
int rss_child(int threads, int steps, int64_t start_ns) {
  torch_side::set_threads(1, threads);
  auto train = std::make_unique<io::Dataset>(io::load_fashion_mnist(io::Split::kTrain));
  auto test = std::make_unique<io::Dataset>(io::load_fashion_mnist(io::Split::kTest));
  torch_side::fmnist_rss_job(
      train->images.row(0), train->labels.data<int64_t>(), train->size(), test->images.row(0), test->size(),
      io::kFashionMnistMean, io::kFashionMnistStd, steps,
      [&] {
        // LibTorch holds its own copies now; the labels were cloned too.
        train.reset();
        test.reset();
      },
      [start_ns] { report_first_step(start_ns); });
  report_peak_rss();
  return 0;
}

}  // namespace
}  // namespace graft::bench

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--rss-child") == 0) {
    return graft::bench::rss_child(std::atoi(argv[2]), std::atoi(argv[3]), std::atoll(argv[4]));
  }
  graft::bench::Timing timing;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0) {
      timing.reps = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--min-ms") == 0) {
      timing.min_ms = std::max(1.0, std::atof(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--only") == 0) {
      only = argv[i + 1];
    } else if (std::strcmp(argv[i], "--clock") == 0 && std::strcmp(argv[i + 1], "cpu") == 0) {
      timing.cpu_time = true;
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--min-ms M] [--only WORKLOAD] [--clock cpu]\n", argv[0]);
      return 2;
    }
  }
  // Before either library's first product, so graft and LibTorch (one
  // OpenBLAS in this process) and the floor all run the same kernels.
  std::printf("# openblas_kernels=%s\n", graft::blas::select_kernels());
  graft::bench::run_all(timing, only);
  return 0;
}
