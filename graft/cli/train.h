// graft/cli/train.h: the `graft train` job: an MLP on Fashion-MNIST that
// grows while it trains.
//
//   TrainConfig config;
//   config.hidden = {128};
//   config.grow = "widen:256@3,deepen@6";
//   TrainResult result = run_training(config, std::cout);
//
// Every flag is checked, the data loaded and the growth plan simulated before
// the first step, so a bad flag, a missing data set or an impossible plan
// fails fast with a clear error. The training step is a graft::function: it
// is captured once, replayed, and recaptured after each growth event.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace graft::cli {

struct TrainConfig {
  std::vector<int64_t> hidden = {128};
  std::string optimizer = "adam";  // adam, adamw, sgd, momentum
  double learning_rate = 1e-3;
  std::string schedule = "cosine";  // constant, cosine, step
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double clip_norm = 0.0;  // 0: no clipping
  int64_t epochs = 12;
  int64_t batch_size = 128;
  uint64_t seed = 1;
  int threads = 0;  // 0: every core
  std::string grow = "widen:256@2,deepen@5";
  double widen_noise = 0.0;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string run_dir = "runs/latest";
  int64_t log_every = 100;
  bool compile = true;
  int64_t limit = 0;  // use only the first N training examples (0: all)
  bool progress = true;  // a progress bar when stdout is a terminal
};

struct TrainResult {
  double test_accuracy = 0;
  double test_loss = 0;
  double seconds = 0;
  int64_t steps = 0;
  int64_t parameters = 0;
  int growth_events = 0;
  int captures = 0;
};

// Throws graft::Error (ValueError for flags and plans, IoError for data and
// the run folder) before training starts when anything is wrong.
TrainResult run_training(const TrainConfig& config, std::ostream& out);

// "128,64" -> {128, 64}; ValueError for anything else.
std::vector<int64_t> parse_widths(const std::string& text);

}  // namespace graft::cli
