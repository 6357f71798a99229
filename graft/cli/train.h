// graft/cli/train.h: the `graft train` job: an MLP on Fashion-MNIST that
// grows while it trains.
//
//   TrainConfig config;
//   config.hidden = {256};
//   config.grow = "widen:512@3,deepen@7";
//   TrainResult result = run_training(config, std::cout);
//
// Every flag is checked, the data loaded and the growth plan simulated before
// the first step, so a bad flag, a missing data set or an impossible plan
// fails fast with a clear error. The training step is a graft::function: it
// is captured once, replayed, and recaptured after each growth event.
//
// Checkpoints (model, optimizer slots and graft train's own state, one
// safetensors file, graft/io/checkpoint.h) go to run_dir every
// checkpoint_every steps and when the run ends, stops at max_steps, or gets
// SIGINT, SIGTERM or SIGHUP (it then finishes the current step, saves and
// returns with TrainResult::signal set; `graft` then exits 128 + signal).
// `resume` continues such a run exactly (graft/cli/train_state.h).
//
// Before anything is built every setting is range-checked (validate_config),
// and a resumed checkpoint is checked whole: its format version, its saved
// settings (a bad one is named by file and key), step against data position
// and optimizer iterations, its optimizer slot count, and its values (NaN or
// Inf refused unless allow_nonfinite). The run folder's metrics.jsonl is
// opened only once the run can start.
#pragma once

#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace graft::cli {

struct TrainConfig {
  // "mlp": Linear layers of `hidden` widths. "cnn": a conv block (3x3 Conv2d,
  // BatchNorm, ReLU, 2x2 max pooling) per `channels` width, Flatten, then the
  // `hidden` Linear layers; growth events then edit the conv blocks.
  std::string model = "mlp";
  std::vector<int64_t> channels = {16, 32};
  // Random shifts of up to 2 pixels and horizontal flips of every training
  // batch (cnn), drawn from the seed and the step.
  bool augment = false;
  // Cross-entropy against (1 - e) * one_hot + e / classes.
  double label_smoothing = 0.0;
  // How widen starts new units: "duplicate" (Net2Net) or "zero_fanout".
  std::string widen_init = "duplicate";
  std::vector<int64_t> hidden = {256};
  std::string optimizer = "adam";  // adam, adamw, sgd, momentum
  double learning_rate = 1e-3;
  std::string schedule = "cosine";  // constant, cosine, step
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double clip_norm = 0.0;  // 0: no clipping
  int64_t epochs = 15;
  int64_t batch_size = 128;
  uint64_t seed = 1;
  int threads = 0;  // 0: every core
  std::string grow = "widen:512@3,deepen@7";
  double widen_noise = 0.0;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string run_dir = "runs/latest";
  int64_t log_every = 100;
  bool compile = true;
  int64_t limit = 0;  // use only the first N training examples (0: all)
  bool progress = true;  // a progress bar when stdout is a terminal
  // Checkpoints: run_dir/checkpoint.safetensors every N steps (0: only when
  // the run ends or stops), written atomically.
  int64_t checkpoint_every = 0;
  // A run folder (or checkpoint file) to continue: same data order, step
  // count, architecture and optimizer state, so the result is bit-identical
  // to an uninterrupted run with the same seed and thread count.
  std::string resume;
  // Flags the user gave ("--lr"); on resume every other trajectory setting
  // comes from the checkpoint (graft/cli/train_state.h).
  std::set<std::string> given_flags;
  // Stop after this many steps in all (0: run every epoch), as an
  // interruption would, leaving a checkpoint to resume from. A resumed run
  // keeps the checkpoint's value until it is reached; one that resumes a
  // checkpoint at or past it runs on to the end unless given --max-steps.
  int64_t max_steps = 0;
  // A fresh run refuses a run folder that already holds a run
  // (metrics.jsonl, curves.svg or checkpoint.safetensors) unless this is
  // set; it then replaces that run (the old files are deleted when the new
  // run starts). Resuming into the folder of the checkpoint needs no flag.
  bool overwrite = false;
  // --resume refuses a checkpoint with NaN or Inf values unless this is set.
  bool allow_nonfinite = false;
};

struct TrainResult {
  double test_accuracy = 0;
  double test_loss = 0;
  double seconds = 0;
  int64_t steps = 0;
  int64_t parameters = 0;
  int growth_events = 0;
  int captures = 0;
  int64_t resumed_from_step = -1;  // -1: a fresh run
  bool stopped_early = false;      // --max-steps or an interrupt ended it
  std::string checkpoint;          // the last checkpoint written
  int signal = 0;                  // the signal that interrupted the run (0: none)
};

// Runs a Trainer (graft/cli/trainer.h). Throws graft::Error (ValueError for
// flags and plans, IoError for data and the run folder) before training
// starts when anything is wrong.
TrainResult run_training(const TrainConfig& config, std::ostream& out);

// Limits of graft train's settings, checked before anything is built: far
// beyond a sane run, small enough that no step or size count can overflow.
// (kMaxWidth and kMaxHiddenLayers bound the model: graft/cli/growth_plan.h.)
inline constexpr int64_t kMaxEpochs = 1'000'000;
inline constexpr int64_t kMaxSteps = int64_t{1} << 40;  // steps, examples, batch sizes
inline constexpr int kMaxThreads = 256;
// Parameters of the model at any point of its growth plan: 4 GiB of float32
// weights, about 16 GiB with gradients and Adam's two slots.
inline constexpr int64_t kMaxParameters = int64_t{1} << 30;

// Throws ValueError when a setting is out of range: the flag is named when the
// user gave it (or the run is fresh), the checkpoint file and key when a
// resumed run took the setting from its checkpoint.
void validate_config(const TrainConfig& config);

// "128,64" -> {128, 64}; ValueError naming `flag` for anything else.
std::vector<int64_t> parse_widths(const std::string& text, const std::string& flag = "--hidden");

}  // namespace graft::cli
