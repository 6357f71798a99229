// graft/vars/internal/variable_impl.h: the shared state behind a Variable
// handle, and the store's state. Not a public header.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <unordered_map>
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

// Per creation site of unkeyed variables.
struct SiteStats {
  std::string site;
  std::string name;
  int live = 0;
  int dropped = 0;
  int recreations = 0;
  bool reported = false;
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
  std::vector<AuditReport> reports;
  VariableStore::CreateHook create_hook;  // VariableStore::set_create_hook

  // Called by a dropped unkeyed variable's destructor.
  void on_unkeyed_dropped(uint64_t id, const std::string& site_key);
};

}  // namespace graft
