// graft/dist/sync.h: keeping every rank's model and optimizer identical:
// at start, through growth, in checkpoints.
//
//   dist::Comm& comm = dist::Comm::world();
//   build_model(model);                                  // the same code on every rank
//   dist::sync(comm, model.store(), adam);               // check, then rank 0's values everywhere
//   ...
//   dist::collective_growth(comm, model.store(), &adam, "at growth event 1", [&] {
//     edit::widen(model, 0, 512, {.optimizer = &adam, .seed = dist::shared_seed(comm, seed)});
//   });
//   dist::average_statistics(comm, model.store(), "before evaluation");  // BatchNorm's running stats
//   dist::save_checkpoint(comm, path, {&model.store(), &adam.store()}, metadata);  // rank 0 writes
//
// sync: checks the structure of the model and the optimizer's slots
// (graft/dist/structure.h; StructureError on every rank when they differ),
// then broadcasts every live variable of both stores from rank 0, in path
// order, and the optimizer's iteration count (the step of its schedule).
//
// collective_growth: runs `edit` on every rank. The edit must decide the same
// way everywhere: take random choices from shared_seed(). If it throws on
// some ranks, every rank throws (those that failed rethrow their own error,
// the others name the ranks that failed), so no rank is left waiting. Then
// the structure is checked and the variables the edit created (new weights
// and their optimizer slots) are broadcast from rank 0. Gradient buckets
// rebuild on the next GradientReducer::average, and compiled steps recapture
// on their own (the stores' epochs moved).
//
// average_statistics: the gradient averaging keeps trainable variables equal
// on every rank, but not what a layer updates from its own batch: a
// BatchNorm's moving_mean and moving_variance follow each rank's shard. So
// before evaluating and before saving, every non-trainable float variable
// that differs between ranks is replaced by its average over the ranks (what
// timm's distribute_bn does for DDP without SyncBatchNorm): the moving mean
// becomes the running mean of the whole global batch stream, the moving
// variance the mean of the ranks' (within-shard) variances. Variables equal on
// every rank (frozen weights) are left alone bit for bit, and training itself
// never reads the running statistics, so the steps are unchanged.
//
// save_checkpoint: rank 0 writes the file (graft/io/checkpoint.h: atomic)
// with `metadata` plus dist.world_size; every rank learns whether that
// worked, and all throw if it did not. Resuming: every rank restores the same
// file (a shared folder across machines), then calls sync(); the number of
// ranks may differ from the one that saved.
//
// All functions are collective. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "graft/dist/comm.h"
#include "graft/io/safetensors.h"
#include "graft/optim/optimizer.h"

namespace graft::dist {

// Metadata key save_checkpoint adds: the number of ranks that saved.
inline constexpr const char* kWorldSizeKey = "dist.world_size";

// Checks that every rank holds the same variables in `stores`, then copies
// rank 0's values to every rank. Returns the number of variables broadcast.
size_t sync(const Comm& comm, const std::vector<VariableStore*>& stores, std::string_view when = "at start");
// The model's and the optimizer's stores, and the optimizer's iteration count.
size_t sync(const Comm& comm, VariableStore& model, optim::Optimizer& optimizer, std::string_view when = "at start");

// Rank 0's `seed`, on every rank.
uint64_t shared_seed(const Comm& comm, uint64_t seed);

// Runs `edit` on every rank as a collective step (header comment). Returns
// the paths broadcast from rank 0, sorted.
std::vector<std::string> collective_growth(const Comm& comm, VariableStore& model, optim::Optimizer* optimizer,
                                           std::string_view when, const std::function<void()>& edit);

// Replaces each non-trainable float32/float64 variable of `model` whose value
// differs between ranks by its average over the ranks (header comment).
// StructureError when the ranks hold different variables. Returns how many
// were averaged (0 with one rank).
size_t average_statistics(const Comm& comm, VariableStore& model, std::string_view when);

// Rank 0 saves `stores` to `path` with `metadata` and kWorldSizeKey; throws
// on every rank when saving failed (IoError on rank 0, ValueError elsewhere).
void save_checkpoint(const Comm& comm, const std::string& path, const std::vector<const VariableStore*>& stores,
                     const io::Metadata& metadata = {});

}  // namespace graft::dist
