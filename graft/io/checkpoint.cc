#include "graft/io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::io {
namespace {

std::string first_component(std::string_view path) { return std::string(path.substr(0, path.find('/'))); }

std::vector<int64_t> dims_of(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

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

// The deferred keys of one store. The store's create hook holds it; the
// registry finds it again for pending_restores and friends.
struct StorePending {
  StoreWatch watch;
  std::mutex mutex;
  std::vector<std::pair<std::string, PendingKey>> keys;  // target path -> key, file order
  RestoreReport log;
};

std::mutex g_registry_mutex;
std::unordered_map<const VariableStore*, std::shared_ptr<StorePending>> g_registry;

// The live pending state of `store`, or null (a dead store's entry at a
// reused address does not count: the watch differs). Drops the entries of
// stores that are gone.
std::shared_ptr<StorePending> find_pending(const VariableStore& store) {
  std::lock_guard lock(g_registry_mutex);
  std::erase_if(g_registry, [](const auto& entry) { return !entry.second->watch.alive(); });
  auto it = g_registry.find(&store);
  if (it == g_registry.end() || !(it->second->watch == store.watch())) return nullptr;
  return it->second;
}

// Restores `v` when a key waits for its path (the store's create hook).
void apply_pending(StorePending& pending, const Variable& v) {
  PendingKey found;
  {
    std::lock_guard lock(pending.mutex);
    auto it = std::find_if(pending.keys.begin(), pending.keys.end(), [&](const auto& p) { return p.first == v.path(); });
    if (it == pending.keys.end()) return;
    found = std::move(it->second);
    pending.keys.erase(it);
  }
  const TensorEntry& saved_entry = found.file->entry(found.key);
  RestoreEntry e;
  e.key = found.key;
  e.target = v.path();
  e.file_shape = saved_entry.shape;
  e.file_dtype = std::string(file_dtype_name(saved_entry.dtype));
  e.target_shape = dims_of(v.shape());
  e.target_dtype = std::string(file_dtype_name(to_file_dtype(v.dtype())));
  e.transposed = found.transpose;
  Tensor target = v.raw_value();
  std::optional<Tensor> value;
  std::optional<DType> loadable = loaded_dtype(saved_entry.dtype);
  if (loadable && (!found.transpose || saved_entry.shape.size() == 2) &&
      saved_entry.shape.size() <= static_cast<size_t>(kMaxRank)) {
    Tensor saved = found.file->load(found.key);
    if (found.transpose) saved = transpose(saved).clone();
    if (saved.shape() == target.shape() && saved.dtype() == target.dtype()) {
      value = saved;
    } else if (found.transform) {
      value = found.transform(v.path(), saved, target);
      if (value) {
        GRAFT_CHECK(value->defined() && value->shape() == target.shape() && value->dtype() == target.dtype(),
                    "restore: the transform hook returned ",
                    value->defined() ? value->shape().to_string() + " " + std::string(dtype_name(value->dtype()))
                                     : std::string("an undefined tensor"),
                    " for variable '", v.path(), "', which is ", target.shape().to_string(), " ",
                    dtype_name(target.dtype()));
        e.transformed = true;
      }
    }
  }
  if (value) {
    target.copy_from(*value);
    e.status = RestoreStatus::kMatched;
  } else {
    const bool shape_differs = (found.transpose && e.file_shape.size() == 2
                                    ? std::vector<int64_t>{e.file_shape[1], e.file_shape[0]}
                                    : e.file_shape) != e.target_shape;
    e.status = shape_differs ? RestoreStatus::kShapeMismatch : RestoreStatus::kDTypeMismatch;
    e.detail = "file " + dims_string(e.file_shape) + " " + e.file_dtype + ", variable " + dims_string(e.target_shape) +
               " " + e.target_dtype + "; the variable keeps its initial value";
    const std::string message = found.file->name() + ": deferred restore of '" + found.key + "' into the new variable '" +
                                v.path() + "' failed: " + e.detail +
                                "\n  help: pass a transform hook that maps the saved shape onto the new one" +
                                (found.strict ? ", or restore without strict mode" : "");
    GRAFT_CHECK_AS(IoError, !found.strict, message);
    std::fprintf(stderr, "graft: warning: %s\n", message.c_str());
  }
  std::lock_guard lock(pending.mutex);
  pending.log.file = found.file->name();
  pending.log.entries.push_back(std::move(e));
}

// Adds `keys` to `store`'s pending state and installs its create hook.
void defer_keys(VariableStore& store, std::vector<std::pair<std::string, PendingKey>> keys) {
  std::shared_ptr<StorePending> pending = find_pending(store);
  if (pending == nullptr) {
    pending = std::make_shared<StorePending>();
    pending->watch = store.watch();
    std::lock_guard lock(g_registry_mutex);
    g_registry[&store] = pending;
  }
  {
    std::lock_guard lock(pending->mutex);
    for (auto& [path, key] : keys) {
      const std::string& wanted = path;  // clang 14 cannot capture a structured binding
      auto it = std::find_if(pending->keys.begin(), pending->keys.end(),
                             [&](const auto& p) { return p.first == wanted; });
      if (it != pending->keys.end()) {
        it->second = std::move(key);  // a later restore wins
      } else {
        pending->keys.emplace_back(path, std::move(key));
      }
    }
  }
  // The hook holds the state weakly: the state's watch holds the store's
  // state, which holds the hook.
  store.set_create_hook([weak = std::weak_ptr<StorePending>(pending)](const Variable& v) {
    if (std::shared_ptr<StorePending> p = weak.lock()) apply_pending(*p, v);
  });
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
    out += "  deferred: '" + key + "' waits for its variable to be created (restored then)\n";
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
  for (VariableStore* store : stores) {
    store_by_name[store->name()] = store;
    for (const Variable& v : store->variables()) {
      targets.emplace_back(v.path(), v.raw_value().clone());
      by_path.emplace(v.path(), v);
    }
  }
  RestoreOptions relaxed = options.restore_;
  relaxed.strict(false);
  CheckpointReport out;
  out.metadata = file.metadata();
  RestoreReport all = restore_tensors(file, targets, relaxed);
  out.restore.file = all.file;

  std::map<VariableStore*, std::vector<std::pair<std::string, PendingKey>>> deferred;
  std::shared_ptr<const SafetensorsFile> shared;
  for (RestoreEntry& e : all.entries) {
    if (options.defer_ && e.status == RestoreStatus::kUnexpected) {
      std::optional<MappedKey> mapped = options.restore_.key_map_ ? options.restore_.key_map_(e.key) : MappedKey{e.key};
      auto store = mapped ? store_by_name.find(first_component(mapped->name)) : store_by_name.end();
      if (store != store_by_name.end() && !by_path.contains(mapped->name)) {
        if (shared == nullptr) shared = std::make_shared<SafetensorsFile>(file);
        deferred[store->second].emplace_back(
            mapped->name, PendingKey{shared, e.key, mapped->transpose, options.restore_.transform_, options.restore_.strict_});
        out.deferred.push_back(e.key);
        continue;
      }
    }
    out.restore.entries.push_back(std::move(e));
  }

  if (options.restore_.strict_ && !out.restore.all_matched()) {
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
  std::shared_ptr<StorePending> pending = find_pending(store);
  if (pending == nullptr) return out;
  std::lock_guard lock(pending->mutex);
  for (const auto& [path, key] : pending->keys) out.push_back(key.key);
  return out;
}

RestoreReport deferred_report(const VariableStore& store) {
  std::shared_ptr<StorePending> pending = find_pending(store);
  if (pending == nullptr) return {};
  std::lock_guard lock(pending->mutex);
  return pending->log;
}

void cancel_pending_restores(VariableStore& store) {
  store.set_create_hook({});
  std::lock_guard lock(g_registry_mutex);
  g_registry.erase(&store);
}

RestoreReport diff_checkpoint(const SafetensorsFile& file, const std::vector<const VariableStore*>& stores,
                              const RestoreOptions& options) {
  std::vector<NamedShape> targets;
  for (const VariableStore* store : stores) {
    for (const Variable& v : store->variables()) targets.push_back({v.path(), dims_of(v.shape()), v.dtype()});
  }
  return diff_safetensors(file, targets, options);
}

std::string inspect_checkpoint(const SafetensorsFile& file) {
  std::string out = inspect_safetensors(file);
  std::vector<std::pair<std::string, std::pair<size_t, int64_t>>> stores;  // name -> (tensors, elements)
  for (const TensorEntry& e : file.entries()) {
    std::string name = first_component(e.key);
    auto it = std::find_if(stores.begin(), stores.end(), [&](const auto& s) { return s.first == name; });
    if (it == stores.end()) it = stores.insert(stores.end(), {name, {0, 0}});
    it->second.first += 1;
    it->second.second += e.numel();
  }
  out += "parameters by store (first path component):\n";
  for (const auto& [name, count] : stores) {
    out += "  " + name + ": " + std::to_string(count.second) + " in " + std::to_string(count.first) + " tensors\n";
  }
  auto version = file.metadata().find("graft.format_version");
  out += version != file.metadata().end() ? "graft checkpoint, format version " + version->second + "\n"
                                          : "not written by save_checkpoint (no graft.format_version)\n";
  return out;
}

}  // namespace graft::io
