// graft's side of the rss_fmnist workload (bench/rss_fmnist.h): the job of
// `graft train` in one process of its own. Prints first_step_ms= after the
// first step.
//   graft_rss_fmnist <threads> <steps> <start_ns>
#include <cstdlib>

#include "bench/graft_compiled_workloads.h"
#include "bench/rss_fmnist.h"
#include "graft/io/batches.h"
#include "graft/io/fashion_mnist.h"
#include "graft/tensor/parallel.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <threads> <steps> <start_ns>\n", argv[0]);
    return 2;
  }
  using namespace graft;
  set_num_threads(std::atoi(argv[1]));
  const int steps = std::atoi(argv[2]);
  const int64_t start_ns = std::atoll(argv[3]);
  const auto options = io::FashionMnistOptions().normalize(true);
  io::Dataset train = io::load_fashion_mnist(io::Split::kTrain, options);
  io::Dataset test = io::load_fashion_mnist(io::Split::kTest, options);  // as graft train loads it
  io::BatchIterator batches(train.images, train.labels, io::BatchOptions(128).seed(1).drop_last(true));
  bench::Trainer trainer{bench::make_sequential_mlp({784, 256, 256, 10}, 1), std::make_unique<optim::Adam>(optim::AdamOptions(1e-3))};
  auto step = bench::compile_step(&trainer);
  double loss = 0;
  for (int s = 0; s < steps; ++s) {
    io::Batch b = batches.next();
    loss = (*step)(b.inputs, b.labels).item<double>();
    if (s == 0) bench::report_first_step(start_ns);
  }
  std::printf("loss=%.4f test_examples=%lld\n", loss, static_cast<long long>(test.size()));
  bench::report_peak_rss();
  return 0;
}
