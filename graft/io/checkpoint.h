// graft/io/checkpoint.h: checkpoints of whole VariableStores (a model and its
// optimizer together), restored by name, into models that may have grown or
// may not be built yet.
//
//   save_checkpoint("run/checkpoint.safetensors", {&model.store(), &adam.store()},
//                   {{"train.step", "1200"}});
//   CheckpointReport r = restore_checkpoint("run/checkpoint.safetensors",
//                                           {&model.store(), &adam.store()});
//   std::cout << r.to_string();   // every key: matched, missing, unexpected, ...
//
// File: a safetensors file (graft/io/safetensors.h has the byte layout: u64
// header length, JSON header, raw little-endian data). Keys are variable
// paths ("mlp/layer_0/kernel", "adam/mlp/layer_0/kernel/m"); a store's name is
// the first component of each of its paths, so one file holds several stores
// and a key says which store it belongs to. Every live variable of every
// store is saved, in creation order, store after store; retired variables
// are not.
//
// Metadata (`__metadata__`, strings only) written by save_checkpoint:
//   graft.format_version       "1" (kCheckpointFormatVersion)
//   graft.stores               the store names, comma-separated ("mlp,adam")
//   graft.structure_epoch.S    store S's structure epoch when saved
// Callers add their own keys (graft train uses "train.*": step, data
// position, architecture, growth events already run; graft/cli/train.h).
// Keys starting with "graft." are reserved for this layer.
//
// Restore is by name, never by position: a variable receives the tensor saved
// under its path, whatever the creation order. Every key and every variable
// ends in one class of graft/io/restore.h (matched, missing, unexpected,
// shape or dtype mismatch), or, with defer (the default), in `deferred`:
// a key under a store's name whose variable does not exist yet waits in that
// store (kept by the store itself, with a creation listener of its own:
// VariableStore::add_create_listener, so other listeners neither replace nor
// cancel it) and is restored the moment the variable is created, so a lazily
// built module can be restored before or after it builds (TensorFlow's
// restore-on-create). Optimizer slots, created on a variable's first update,
// are restored the same way.
//
// Keys of a store the file lists in graft.stores but the caller did not pass
// (the optimizer's, when only the model is restored) are not unexpected:
// they go to `other_stores`, and a strict restore of the model alone
// succeeds.
//
// Strict mode checks everything first and throws one IoError listing every
// offender (deferred keys are not offenders); nothing is written unless all
// are matched. A transform hook maps a saved tensor onto a variable of
// another shape (a widened kernel, its Adam slots), now or deferred.
#pragma once

#include <string>
#include <vector>

#include "graft/io/restore.h"
#include "graft/vars/store.h"

namespace graft::io {

// The graft.format_version this build writes and reads.
inline constexpr int kCheckpointFormatVersion = 1;

// Saves every live variable of `stores` (raw values: no tape, no capture) and
// `metadata` plus the graft.* keys above to `path`, atomically (a crash
// leaves the previous file). Throws ValueError for a reserved metadata key,
// a null or unnamed store or two variables with one path; IoError when
// writing fails. restore_checkpoint and diff_checkpoint also throw
// ValueError for a null store.
void save_checkpoint(const std::string& path, const std::vector<const VariableStore*>& stores,
                     const Metadata& metadata = {});

// How restore_checkpoint() restores: RestoreOptions plus deferral.
class CheckpointOptions {
 public:
  // As RestoreOptions::strict, transform and key_map (graft/io/restore.h).
  CheckpointOptions& strict(bool on) { restore_.strict(on); return *this; }
  CheckpointOptions& transform(TransformHook hook) { restore_.transform(std::move(hook)); return *this; }
  CheckpointOptions& key_map(KeyMap map) { restore_.key_map(std::move(map)); return *this; }
  // Keep keys whose variables do not exist yet for when they are created.
  CheckpointOptions& defer(bool on) { defer_ = on; return *this; }

  // The values set above, or their defaults (defer on).
  const RestoreOptions& restore() const { return restore_; }
  bool defer() const { return defer_; }

 private:
  RestoreOptions restore_;
  bool defer_ = true;
};

// What restore_checkpoint() did.
struct CheckpointReport {
  RestoreReport restore;              // what happened to each key now
  std::vector<std::string> deferred;  // keys waiting for their variables
  std::vector<std::string> other_stores;  // keys of the file's stores not restored here
  Metadata metadata;                  // the file's metadata

  // restore.to_string() plus one line per deferred key and one line for the
  // keys of other stores.
  std::string to_string() const;
};

// Restores `stores` from `file` as the header comment says. Throws IoError in
// strict mode (nothing written), ValueError from a bad transform hook.
CheckpointReport restore_checkpoint(const SafetensorsFile& file, const std::vector<VariableStore*>& stores,
                                    const CheckpointOptions& options = {});
// Reads `path` first (IoError for a missing, truncated or corrupt file).
CheckpointReport restore_checkpoint(const std::string& path, const std::vector<VariableStore*>& stores,
                                    const CheckpointOptions& options = {});

// Deferred keys of `store` not restored yet, in file order.
std::vector<std::string> pending_restores(const VariableStore& store);
// What happened to deferred keys once their variables were created: matched,
// or shape / dtype mismatch (then the variable kept its initial value, and a
// warning went to graft::warn; in strict mode the creation threw instead).
RestoreReport deferred_report(const VariableStore& store);
// Forgets `store`'s deferred keys (and removes the creation listener that
// restores them; other listeners stay).
void cancel_pending_restores(VariableStore& store);

// The report restoring `file` into `stores` would give, without writing or
// deferring anything (keys of absent variables are unexpected).
RestoreReport diff_checkpoint(const SafetensorsFile& file, const std::vector<const VariableStore*>& stores,
                              const RestoreOptions& options = {});

// inspect_safetensors(file) followed by the parameter count of each store
// (first path component) and the format version, when graft wrote the file.
std::string inspect_checkpoint(const SafetensorsFile& file);

}  // namespace graft::io
