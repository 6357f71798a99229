// A small data-parallel training job for the fault tests (kill_resume.sh):
// Adam on a synthetic data set, a compiled step, a widen at step 10, rank-0
// checkpoints every --every steps, and resume on any number of ranks.
//
//   mpiexec -n 2 graft_dist_job --dir D --steps 40 --every 10 [--kill-rank 1 --kill-step 25]
//   mpiexec -n 1 graft_dist_job --dir D --steps 40 --every 10 --resume
//
// Rank 0 prints "resumed_from_step=S" on resume and "final_step=N
// checksum=C" (C: the sum of |w| over the model's variables) at the end. With
// --kill-rank R, rank R prints "killed_at=T" (seconds since the epoch) and
// SIGKILLs itself before step --kill-step.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "graft/autodiff/tape.h"
#include "graft/dist/reducer.h"
#include "graft/dist/sync.h"
#include "graft/edit/edit.h"
#include "graft/io/batches.h"
#include "graft/io/checkpoint.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"
#include "graft/trace/function.h"

namespace {

using namespace graft;

constexpr int64_t kWidenAt = 10;

struct Args {
  std::string dir;
  int64_t steps = 40, every = 10, kill_step = -1;
  int kill_rank = -1;
  bool resume = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&] {
      GRAFT_CHECK(i + 1 < argc, "graft_dist_job: ", flag, " needs a value");
      return std::string(argv[++i]);
    };
    if (flag == "--dir") a.dir = value();
    else if (flag == "--steps") a.steps = std::stoll(value());
    else if (flag == "--every") a.every = std::stoll(value());
    else if (flag == "--kill-rank") a.kill_rank = std::stoi(value());
    else if (flag == "--kill-step") a.kill_step = std::stoll(value());
    else if (flag == "--resume") a.resume = true;
    else GRAFT_CHECK(false, "graft_dist_job: unknown flag '", flag, "'");
  }
  GRAFT_CHECK(!a.dir.empty(), "graft_dist_job: --dir is required");
  return a;
}

void widen(nn::Sequential& model, optim::Optimizer& adam) {
  edit::widen(model, 0, 9, edit::EditOptions().optimizer(&adam).seed(4));
}

int run(const Args& args) {
  dist::Comm& comm = dist::Comm::world();
  set_num_threads(1);
  Tensor x = Tensor::empty({96, 6});
  fill_normal(x.data<float>(), x.numel(), 11, 0.0, 1.0);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 96; ++i) labels.push_back((i * 7 + i / 5) % 3);
  Tensor y = Tensor::from_vector(labels);
  io::BatchIterator batches(x, y, io::BatchOptions(8).seed(9).shard(comm.rank(), comm.size()));

  nn::Sequential model("mlp");
  model.set_seed(3);
  model.add(nn::Linear(nn::LinearOptions(5).activation(nn::Activation::kRelu)));
  model.add(nn::Linear(nn::LinearOptions(3)));
  model.build({1, 6});
  optim::Adam adam(optim::AdamOptions(0.01));
  dist::GradientReducer reducer(comm);
  const std::string checkpoint = args.dir + "/checkpoint.safetensors";

  int64_t step = 0;
  if (args.resume) {
    io::SafetensorsFile file = io::SafetensorsFile::read(checkpoint);
    step = std::stoll(file.metadata().at("train.step"));
    if (step >= kWidenAt) widen(model, adam);  // the architecture the checkpoint holds
    io::restore_checkpoint(file, {&model.store(), &adam.store()});
    adam.set_iterations(step);
    batches.seek({std::stoll(file.metadata().at("train.epoch")), std::stoll(file.metadata().at("train.batch"))});
    if (comm.is_root()) std::printf("resumed_from_step=%lld saved_by=%s ranks\n", static_cast<long long>(step),
                                    file.metadata().at(dist::kWorldSizeKey).c_str());
  }
  dist::sync(comm, model.store(), adam, args.resume ? "on resume" : "at start");

  auto train_step = graft::function([&](const Tensor& bx, const Tensor& by) {
    GradientTape tape;
    Tensor loss = mean(sparse_softmax_cross_entropy(model(bx), by));
    std::vector<Variable> vars = model.trainable_variables();
    adam.apply_gradients(vars, reducer.average(vars, tape.gradient(loss, vars)));
    return loss;
  }, FunctionOptions().name("dp_step"));

  for (; step < args.steps; ++step) {
    if (step == kWidenAt) {
      dist::collective_growth(comm, model.store(), &adam, "at step 10", [&] { widen(model, adam); });
    }
    if (comm.rank() == args.kill_rank && step == args.kill_step) {
      const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      std::fprintf(stderr, "killed_at=%.3f\n", now);
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
    io::Batch b = batches.next();
    train_step(b.inputs, b.labels);
    if ((step + 1) % args.every == 0) {
      io::BatchPosition p = batches.position();
      dist::save_checkpoint(comm, checkpoint, {&model.store(), &adam.store()},
                            {{"train.step", std::to_string(step + 1)},
                             {"train.epoch", std::to_string(p.epoch)},
                             {"train.batch", std::to_string(p.batch)}});
    }
  }
  double checksum = 0;
  for (const Variable& v : model.variables()) checksum += sum(abs(v.value())).item<double>();
  if (comm.is_root()) std::printf("final_step=%lld checksum=%.9g\n", static_cast<long long>(step), checksum);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
