// Data-parallel benchmarks (run under mpiexec; see BENCHMARKS.md and
// scripts/bench.sh --dist). One line per workload, in the bench line form
// with MPI itself as the reference:
//   bench allreduce_<size> ranks=<n> graft=<us> mpi=<us> unit=us speedup=<mpi / graft> busbw_gbs=<GB/s>
//     graft: GradientReducer::average of one gradient of <size> bytes (the
//     whole averaging: reduction plus the division by the rank count); mpi: a
//     raw MPI_Allreduce of the same bytes in the same run, repetitions
//     alternating; each value is the fastest of 11 repetitions of ~20 ms.
//     busbw is NCCL's bus bandwidth, 2 (n - 1) / n * bytes / time.
//   bench dp_fmnist ranks=<n> threads=<t> graft=<samples/s> unit=samples/s global_batch=128 ...
//     the growing MLP's compiled training step on Fashion-MNIST (784-256-10,
//     Adam, global batch 128 split over the ranks), and with --grow the cost of
//     one collective widen (256 -> 512) including the recapture that follows.
//
//   mpiexec -n 2 graft_dist_bench                      every workload
//   mpiexec -n 2 graft_dist_bench --only allreduce     the reductions
//   mpiexec -n 1 graft_dist_bench --only dp_fmnist --threads 2
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "graft/autodiff/tape.h"
#include "graft/dist/reducer.h"
#include "graft/dist/sync.h"
#include "graft/edit/edit.h"
#include "graft/io/batches.h"
#include "graft/io/fashion_mnist.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/tensor/parallel.h"
#include "graft/trace/function.h"

namespace {

using namespace graft;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Every rank's time is the slowest rank's: a collective ends when all do.
double slowest(double s) {
  double out = 0;
  MPI_Allreduce(&s, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

void bench_allreduce(const dist::Comm& comm, const char* name, size_t bytes) {
  const int64_t n = static_cast<int64_t>(std::max<size_t>(bytes / 4, 1));
  VariableStore store("bench");
  std::vector<Variable> vars = {store.root().variable("g", {n})};
  std::vector<std::optional<Tensor>> grads = {full({n}, 1.0 + comm.rank())};
  std::vector<float> raw_out(static_cast<size_t>(n));
  dist::GradientReducer reducer(comm);
  reducer.average(vars, grads);  // plans the buckets
  // Enough calls per repetition for ~20 ms, decided on rank 0.
  int calls = 1;
  for (;;) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = Clock::now();
    for (int c = 0; c < calls; ++c) reducer.average(vars, grads);
    double s = slowest(seconds_since(start));
    MPI_Bcast(&s, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (s > 0.02 || calls >= (1 << 16)) break;
    calls *= 4;
  }
  std::vector<double> graft_s, mpi_s;
  for (int rep = 0; rep < 11; ++rep) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = Clock::now();
    for (int c = 0; c < calls; ++c) {
      MPI_Allreduce(grads[0]->raw_data(), raw_out.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    mpi_s.push_back(slowest(seconds_since(start)) / calls);
    MPI_Barrier(MPI_COMM_WORLD);
    start = Clock::now();
    for (int c = 0; c < calls; ++c) reducer.average(vars, grads);
    graft_s.push_back(slowest(seconds_since(start)) / calls);
  }
  // The fastest repetition of each: load from other processes only ever adds time.
  const double g = *std::min_element(graft_s.begin(), graft_s.end());
  const double m = *std::min_element(mpi_s.begin(), mpi_s.end());
  const double busbw = 2.0 * (comm.size() - 1) / comm.size() * static_cast<double>(n * 4) / g / 1e9;
  if (comm.is_root()) {
    std::printf("bench %s ranks=%d graft=%.4g mpi=%.4g unit=us speedup=%.2f busbw_gbs=%.3g\n", name, comm.size(),
                g * 1e6, m * 1e6, m / g, busbw);
    std::fflush(stdout);
  }
}

void bench_dp_fmnist(const dist::Comm& comm, int threads, bool grow) {
  constexpr int64_t kGlobalBatch = 128;
  constexpr int kSteps = 150;
  io::Dataset train = io::load_fashion_mnist(io::Split::kTrain);
  io::BatchIterator batches(train.images, train.labels,
                            io::BatchOptions(kGlobalBatch).seed(1).drop_last(true).shard(comm.rank(), comm.size()));
  nn::Sequential model("mlp");
  model.set_seed(1);
  model.add(nn::Linear(nn::LinearOptions(256).activation(nn::Activation::kRelu)));
  model.add(nn::Linear(nn::LinearOptions(10)));
  model.build({1, 784});
  optim::Adam adam(optim::AdamOptions(1e-3));
  dist::GradientReducer reducer(comm);
  dist::sync(comm, model.store(), adam);
  auto step = graft::function([&](const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor loss = mean(sparse_softmax_cross_entropy(model(x), y));
    std::vector<Variable> vars = model.trainable_variables();
    adam.apply_gradients(vars, reducer.average(vars, tape.gradient(loss, vars)));
    return loss;
  }, FunctionOptions().name("dp_step"));
  auto run = [&](int steps) {
    for (int s = 0; s < steps; ++s) {
      io::Batch b = batches.next();
      step(b.inputs, b.labels);
    }
  };
  run(10);  // capture, warm caches
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = Clock::now();
  run(kSteps);
  const double s = slowest(seconds_since(start));
  const double samples_per_s = kSteps * kGlobalBatch / s;
  std::string growth;
  if (grow) {
    // One widen as a collective step, then the first step after it (buckets
    // rebuilt, step recaptured), less a steady step.
    MPI_Barrier(MPI_COMM_WORLD);
    start = Clock::now();
    dist::collective_growth(comm, model.store(), &adam, "at the benchmark's growth event", [&] {
      edit::widen(model, 0, 512, edit::EditOptions().optimizer(&adam).seed(5));
    });
    run(1);
    const double event = slowest(seconds_since(start)) - s / kSteps;
    char text[96];
    std::snprintf(text, sizeof text, " growth_event_ms=%.1f", event * 1e3);
    growth = text;
  }
  if (comm.is_root()) {
    std::printf("bench dp_fmnist ranks=%d threads=%d graft=%.0f unit=samples/s global_batch=%lld steps=%d%s\n",
                comm.size(), threads, samples_per_s, static_cast<long long>(kGlobalBatch), kSteps, growth.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--only allreduce|dp_fmnist] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  try {
    dist::Comm& comm = dist::Comm::world();
    set_num_threads(threads);
    if (only.empty() || only == "allreduce") {
      const std::pair<const char*, size_t> sizes[] = {{"allreduce_8B", 8},
                                                      {"allreduce_64KiB", 64 << 10},
                                                      {"allreduce_1MiB", 1 << 20},
                                                      {"allreduce_4MiB", 4 << 20},
                                                      {"allreduce_16MiB", 16 << 20}};
      for (const auto& [name, bytes] : sizes) bench_allreduce(comm, name, bytes);
    }
    if (only.empty() || only == "dp_fmnist") bench_dp_fmnist(comm, threads, /*grow=*/comm.size() > 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    dist::Comm::world().abort(1);
  }
  return 0;
}
