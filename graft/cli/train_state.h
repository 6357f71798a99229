// graft/cli/train_state.h: what a `graft train` checkpoint records besides
// the tensors, so that `--resume` continues the run exactly where it stopped.
//
//   io::Metadata m = train_metadata(config, progress);      // when saving
//   TrainProgress p = parse_train_progress(file.metadata(), file.name());
//   adopt_checkpoint_config(config, file.metadata(), file.name());  // when resuming
//
// Metadata keys (strings; numbers printed exactly, doubles with %.17g):
//   train.step                 steps done (the checkpoint holds their result)
//   train.batch_position       "EPOCH,BATCH": where the data iterator stands
//   train.growth_done          how many events of the growth plan already ran
//   train.architecture         the Linear widths then, "784 -> 48 relu -> 10"
//   train.optimizer_iterations Optimizer::iterations(), so the schedule goes on
//                              (one per step: it must equal train.step)
//   train.optimizer_tensors    how many tensors the optimizer's store held, so
//                              a slot missing from the file is noticed
//   train.epoch_sums           loss, hits, examples of the unfinished epoch
//   train.window_sums          the same since the last metrics record
//   train.config.FLAG          every setting that shapes the run's trajectory
//                              (hidden, optimizer, lr, schedule, warmup,
//                              weight-decay, clip-norm, epochs, batch-size,
//                              seed, grow, widen-noise, limit, log-every,
//                              threads) and how it goes on (checkpoint-every,
//                              max-steps, data-dir, eager; absent in older
//                              checkpoints, then the defaults stand)
// The model is rebuilt from train.config.hidden, the first train.growth_done
// growth events are replayed (shapes and paths only: the values are restored
// by name afterwards) and train.architecture is checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graft/cli/train.h"
#include "graft/io/batches.h"
#include "graft/io/safetensors.h"

namespace graft::cli {

struct TrainProgress {
  int64_t step = 0;
  io::BatchPosition position;
  int64_t growth_done = 0;
  std::string architecture;
  int64_t optimizer_iterations = 0;
  int64_t optimizer_tensors = 0;
  double epoch_loss = 0, epoch_hits = 0, epoch_seen = 0;
  double window_loss = 0, window_hits = 0, window_seen = 0;
};

// The train.* keys for `config` (as run, threads included) and `progress`.
io::Metadata train_metadata(const TrainConfig& config, const TrainProgress& progress);

// Reads the train.* keys; IoError naming `file` and the key when one is
// absent or malformed (a file graft train did not write, or a damaged one).
TrainProgress parse_train_progress(const io::Metadata& metadata, const std::string& file);

// Takes every saved setting the user did not give (config.given_flags) from
// the checkpoint; IoError naming the file and key for a malformed one (range
// checks are validate_config's, which names the key too). Throws ValueError
// listing every given setting that differs from the checkpoint's, except
// --epochs, --threads, --log-every, --checkpoint-every, --max-steps,
// --data-dir and --eager, which may change: the returned notes say what that
// costs.
std::vector<std::string> adopt_checkpoint_config(TrainConfig& config, const io::Metadata& metadata,
                                                 const std::string& file);

// The checkpoint file of a run folder (DIR/checkpoint.safetensors), or
// `resume` itself when it names a file.
std::string checkpoint_file_of(const std::string& resume);

inline constexpr const char* kCheckpointName = "checkpoint.safetensors";

}  // namespace graft::cli
