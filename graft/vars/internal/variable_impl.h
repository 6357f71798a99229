// graft/vars/internal/variable_impl.h: the shared state behind a Variable
// handle, and the store's state. Not a public header.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graft/vars/store.h"

namespace graft::vars::internal {

struct VariableImpl {
  uint64_t id = 0;
  std::string path;
  Tensor value;
  bool trainable = true;
  bool keyed = true;
  std::source_location created_at;
  std::string site_key;  // unkeyed creation site, for the audit
  VariableStore* store = nullptr;
  std::weak_ptr<VariableStore::State> store_state;
  std::string retirement;  // non-empty once retired

  ~VariableImpl();
  // Moves the owning store's epoch (a structural change such as freezing).
  void touch_store() const;
};

// Per creation site of unkeyed variables. A creation is a re-creation when
// the variable made last at the site died before it: a site that keeps its
// variables (a growing model, one scratch variable among kept ones) never
// counts one.
struct SiteStats {
  std::string site;
  std::string name;
  uint64_t last_id = 0;     // the variable made last here; 0 before the first
  bool last_alive = false;  // cleared when that variable is dropped
  int recreations = 0;
  bool reported = false;    // its key is in VariableStoreState::reported_sites
};

}  // namespace graft::vars::internal

namespace graft {

struct VariableStoreState {
  std::string name;
  uint64_t seed = 0;
  VariableStore* owner = nullptr;
  mutable std::mutex mutex;
  uint64_t epoch = 0;
  // Live variables by id (ids grow with creation, so this is creation order).
  // Keyed variables are held strongly; unkeyed ones only while a handle lives.
  struct Entry {
    std::shared_ptr<vars::internal::VariableImpl> strong;
    std::weak_ptr<vars::internal::VariableImpl> weak;
    std::string path;
  };
  std::map<uint64_t, Entry> by_id;
  std::unordered_map<std::string, uint64_t> by_path;
  AuditOptions audit;
  std::unordered_map<std::string, vars::internal::SiteStats> sites;
  std::vector<std::string> reported_sites;  // keys of `sites`, in report order
  uint64_t next_listener = 1;
  std::vector<std::pair<uint64_t, VariableStore::CreateListener>> listeners;  // in the order added
  std::unordered_map<std::type_index, std::shared_ptr<void>> attachments;

  // The listeners to call after a creation (copied under the lock, called
  // outside it).
  std::vector<VariableStore::CreateListener> listeners_copy() const;

  // Called by a dropped unkeyed variable's destructor.
  void on_unkeyed_dropped(uint64_t id, const std::string& site_key);
};

}  // namespace graft
