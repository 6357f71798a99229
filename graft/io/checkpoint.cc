#include "graft/io/checkpoint.h"

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "graft/base/check.h"
#include "graft/base/warning.h"
#include "graft/io/internal/restore_entry.h"
#include "graft/io/printable.h"

namespace graft::io {
namespace {

std::string first_component(std::string_view path) { return std::string(path.substr(0, path.find('/'))); }

std::vector<int64_t> dims_of(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

std::string counts_string(const RestoreReport& report) {
  std::string out;
  for (int s = 0; s < static_cast<int>(RestoreStatus::kCount); ++s) {
    size_t n = report.count(static_cast<RestoreStatus>(s));
    if (n == 0) continue;
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " +
           std::string(restore_status_name(static_cast<RestoreStatus>(s)));
  }
  return out;
}

// One key waiting for its variable to be created.
struct PendingKey {
  std::shared_ptr<const SafetensorsFile> file;
  std::string key;     // in the file
  bool transpose = false;
  TransformHook transform;
  bool strict = false;
};

// The deferred keys of one store, kept in the store itself
// (VariableStore::attachment), found again by pending_restores and friends,
// and dying with the store. Its creation listener restores a key the moment
// its variable is created.
struct StorePending {
  std::mutex mutex;
  // target path -> key, in file order, with an index by path: a checkpoint of
  // a million deferred keys must not be searched linearly per key.
  std::list<std::pair<std::string, PendingKey>> keys;
  std::unordered_map<std::string, std::list<std::pair<std::string, PendingKey>>::iterator> by_path;
  RestoreReport log;
  VariableStore::ListenerId listener;
};

// Restores `v` when a key waits for its path (the store's creation listener).
void apply_pending(StorePending& pending, const Variable& v) {
  PendingKey found;
  {
    std::lock_guard lock(pending.mutex);
    auto it = pending.by_path.find(v.path());
    if (it == pending.by_path.end()) return;
    found = std::move(it->second->second);
    pending.keys.erase(it->second);
    pending.by_path.erase(it);
  }
  RestoreEntry e;
  e.key = found.key;
  const Tensor target = v.raw_value();
  std::optional<Tensor> value = internal::decide_entry(*found.file, found.file->entry(found.key), found.transpose,
                                                       internal::restore_target(v.path(), target), found.transform, e);
  if (e.status == RestoreStatus::kMatched) {
    target.copy_from(value ? *value : internal::load_entry(*found.file, e));
  } else {
    const std::string message = found.file->name() + ": deferred restore of '" + printable(found.key) +
                                "' into the new variable '" + v.path() + "' failed: " +
                                std::string(restore_status_name(e.status)) + ": " + e.detail +
                                "; the variable keeps its initial value" +
                                "\n  help: pass a transform hook that maps the saved shape onto the new one" +
                                (found.strict ? ", or restore without strict mode" : "");
    GRAFT_CHECK_AS(IoError, !found.strict, message);
    warn(message);
  }
  std::lock_guard lock(pending.mutex);
  pending.log.file = found.file->name();
  pending.log.entries.push_back(std::move(e));
}

// Adds `keys` to `store`'s pending state, adding its creation listener once.
void defer_keys(VariableStore& store, std::vector<std::pair<std::string, PendingKey>> keys) {
  std::shared_ptr<StorePending> pending = store.attachment<StorePending>([] { return std::make_shared<StorePending>(); });
  std::lock_guard lock(pending->mutex);
  for (auto& [path, key] : keys) {
    auto it = pending->by_path.find(path);
    if (it != pending->by_path.end()) {
      it->second->second = std::move(key);  // a later restore wins
    } else {
      pending->by_path.emplace(path, pending->keys.emplace(pending->keys.end(), path, std::move(key)));
    }
  }
  if (pending->listener.value == 0) {
    // The listener holds the state weakly: the store holds both.
    pending->listener = store.add_create_listener([weak = std::weak_ptr<StorePending>(pending)](const Variable& v) {
      if (std::shared_ptr<StorePending> p = weak.lock()) apply_pending(*p, v);
    });
  }
}

// Throws ValueError for a null store pointer (it was dereferenced: a crash),
// naming the call and the position.
template <typename Store>
void check_stores(const char* call, const std::vector<Store*>& stores) {
  for (size_t i = 0; i < stores.size(); ++i) {
    GRAFT_CHECK(stores[i] != nullptr, call, ": store ", i, " of ", stores.size(), " is a null pointer",
                "\n  help: pass the address of each VariableStore, e.g. {&model.store(), &adam.store()}");
  }
}

// The store names a graft checkpoint lists in graft.stores.
std::unordered_set<std::string> stores_in_file(const SafetensorsFile& file) {
  std::unordered_set<std::string> out;
  auto it = file.metadata().find("graft.stores");
  if (it == file.metadata().end()) return out;
  std::string_view names = it->second;
  while (!names.empty()) {
    const size_t comma = std::min(names.find(','), names.size());
    if (comma > 0) out.emplace(names.substr(0, comma));
    names.remove_prefix(std::min(comma + 1, names.size()));
  }
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const std::vector<const VariableStore*>& stores,
                     const Metadata& metadata) {
  Metadata all;
  for (const auto& [key, value] : metadata) {
    GRAFT_CHECK(key.rfind("graft.", 0) != 0, "save_checkpoint: metadata key '", key,
                "' starts with 'graft.', which is reserved for the checkpoint layer\n  help: use another prefix, "
                "for example 'train.'");
    all[key] = value;
  }
  check_stores("save_checkpoint", stores);
  NamedTensors tensors;
  std::unordered_set<std::string> seen;
  std::string names;
  for (const VariableStore* store : stores) {
    GRAFT_CHECK(!store->name().empty(), "save_checkpoint: a store without a name cannot be saved (its variables' "
                "paths would not say which store they belong to)\n  help: give the VariableStore a name");
    for (const Variable& v : store->variables()) {
      GRAFT_CHECK(seen.insert(v.path()).second, "save_checkpoint: two variables have the path '", v.path(),
                  "' (two stores named '", store->name(), "'?)\n  help: give every store its own name");
      tensors.emplace_back(v.path(), v.raw_value());
    }
    names += (names.empty() ? "" : ",") + store->name();
    all["graft.structure_epoch." + store->name()] = std::to_string(store->epoch());
  }
  all["graft.format_version"] = std::to_string(kCheckpointFormatVersion);
  all["graft.stores"] = names;
  save_safetensors(path, tensors, all);
}

std::string CheckpointReport::to_string() const {
  std::string out = restore.to_string();
  for (const std::string& key : deferred) {
    out += "  deferred: '" + printable(key) + "' waits for its variable to be created (restored then)\n";
  }
  if (!other_stores.empty()) {
    std::vector<std::string> names;  // in file order, each once (a set, not a search: files may hold many stores)
    std::unordered_set<std::string> seen;
    for (const std::string& key : other_stores) {
      if (seen.insert(first_component(key)).second) names.push_back(first_component(key));
    }
    std::string list;
    for (const std::string& name : names) list += (list.empty() ? "'" : ", '") + name + "'";
    out += "  not restored: " + std::to_string(other_stores.size()) + " keys of the file's other stores (" + list +
           "), not asked for\n";
  }
  return out;
}

CheckpointReport restore_checkpoint(const SafetensorsFile& file, const std::vector<VariableStore*>& stores,
                                    const CheckpointOptions& options) {
  // Restore into copies first, so strict mode can refuse before anything is
  // written, and the transform hook still sees each variable's current value.
  NamedTensors targets;
  std::unordered_map<std::string, Variable> by_path;
  std::unordered_map<std::string, VariableStore*> store_by_name;
  check_stores("restore_checkpoint", stores);
  for (VariableStore* store : stores) {
    store_by_name[store->name()] = store;
    for (const Variable& v : store->variables()) {
      targets.emplace_back(v.path(), v.raw_value().clone());
      by_path.emplace(v.path(), v);
    }
  }
  RestoreOptions relaxed = options.restore();
  relaxed.strict(false);
  CheckpointReport out;
  out.metadata = file.metadata();
  RestoreReport all = restore_tensors(file, targets, relaxed);
  out.restore.file = all.file;

  std::map<VariableStore*, std::vector<std::pair<std::string, PendingKey>>> deferred;
  std::shared_ptr<const SafetensorsFile> shared;
  const std::unordered_set<std::string> file_stores = stores_in_file(file);
  for (RestoreEntry& e : all.entries) {
    if (e.status == RestoreStatus::kUnexpected) {
      std::optional<MappedKey> mapped = options.restore().key_map() ? options.restore().key_map()(e.key) : MappedKey{e.key};
      auto store = mapped ? store_by_name.find(first_component(mapped->name)) : store_by_name.end();
      if (options.defer() && store != store_by_name.end() && !by_path.contains(mapped->name)) {
        if (shared == nullptr) shared = std::make_shared<SafetensorsFile>(file);
        deferred[store->second].emplace_back(
            mapped->name, PendingKey{shared, e.key, mapped->transpose, options.restore().transform(), options.restore().strict()});
        out.deferred.push_back(e.key);
        continue;
      }
      // A key of another store the file holds (the optimizer's, when only
      // the model is restored) was not asked for: it is not unexpected.
      if (store == store_by_name.end() && file_stores.contains(first_component(e.key)) &&
          !store_by_name.contains(first_component(e.key))) {
        out.other_stores.push_back(e.key);
        continue;
      }
    }
    out.restore.entries.push_back(std::move(e));
  }

  if (options.restore().strict() && !out.restore.all_matched()) {
    std::string message = file.name() + ": strict restore failed: " + counts_string(out.restore) +
                          "; nothing was restored";
    for (const RestoreEntry& e : out.restore.entries) {
      if (e.status == RestoreStatus::kMatched) continue;
      RestoreReport one;
      one.entries.push_back(e);
      std::string line = one.to_string();
      message += "\n" + line.substr(line.find('\n') + 1, line.size() - line.find('\n') - 2);
    }
    message += "\n  help: restore without strict mode to keep the initial values of missing variables, or pass a "
               "key map or a transform hook for renamed or reshaped tensors";
    throw IoError(message);
  }
  std::unordered_map<std::string, const Tensor*> restored;
  for (const auto& [name, t] : targets) restored.emplace(name, &t);
  for (const RestoreEntry& e : out.restore.entries) {
    if (e.status == RestoreStatus::kMatched) by_path.at(e.target).raw_value().copy_from(*restored.at(e.target));
  }
  for (auto& [store, keys] : deferred) defer_keys(*store, std::move(keys));
  return out;
}

CheckpointReport restore_checkpoint(const std::string& path, const std::vector<VariableStore*>& stores,
                                    const CheckpointOptions& options) {
  return restore_checkpoint(SafetensorsFile::read(path), stores, options);
}

std::vector<std::string> pending_restores(const VariableStore& store) {
  std::vector<std::string> out;
  std::shared_ptr<StorePending> pending = store.find_attachment<StorePending>();
  if (pending == nullptr) return out;
  std::lock_guard lock(pending->mutex);
  for (const auto& [path, key] : pending->keys) out.push_back(key.key);
  return out;
}

RestoreReport deferred_report(const VariableStore& store) {
  std::shared_ptr<StorePending> pending = store.find_attachment<StorePending>();
  if (pending == nullptr) return {};
  std::lock_guard lock(pending->mutex);
  return pending->log;
}

void cancel_pending_restores(VariableStore& store) {
  std::shared_ptr<StorePending> pending = store.find_attachment<StorePending>();
  if (pending == nullptr) return;
  store.remove_create_listener(pending->listener);
  store.detach<StorePending>();
}

RestoreReport diff_checkpoint(const SafetensorsFile& file, const std::vector<const VariableStore*>& stores,
                              const RestoreOptions& options) {
  std::vector<NamedShape> targets;
  check_stores("diff_checkpoint", stores);
  for (const VariableStore* store : stores) {
    for (const Variable& v : store->variables()) targets.push_back({v.path(), dims_of(v.shape()), v.dtype()});
  }
  return diff_safetensors(file, targets, options);
}

std::string inspect_checkpoint(const SafetensorsFile& file) {
  std::string out = inspect_safetensors(file);
  // name -> (tensors, elements), in order of first appearance; indexed by
  // name so a file of many stores is one pass, not one search per tensor.
  std::vector<std::pair<std::string, std::pair<size_t, int64_t>>> stores;
  std::unordered_map<std::string, size_t> store_index;
  for (const TensorEntry& e : file.entries()) {
    std::string name = first_component(e.key);
    auto [it, fresh] = store_index.try_emplace(name, stores.size());
    if (fresh) stores.push_back({std::move(name), {0, 0}});
    auto& counts = stores[it->second].second;
    counts.first += 1;
    counts.second += e.numel();  // the counts of a file's tensors sum to at most its size
  }
  out += "parameters by store (first path component):\n";
  for (const auto& [name, count] : stores) {
    out += "  " + printable(name) + ": " + std::to_string(count.second) + " in " + std::to_string(count.first) + " tensors\n";
  }
  auto version = file.metadata().find("graft.format_version");
  out += version != file.metadata().end() ? "graft checkpoint, format version " + printable(version->second) + "\n"
                                          : "not written by save_checkpoint (no graft.format_version)\n";
  return out;
}

}  // namespace graft::io
