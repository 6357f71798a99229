// graft/vars/store.h: where variables live and are found again by path.
//
//   VariableStore store("mlp", /*seed=*/42);
//   Scope root = store.root();                        // path "mlp"
//   for (int i = 0; i < num_layers; ++i) {
//     Scope layer = root.child("layer_" + std::to_string(i));
//     Variable w = layer.variable("kernel", {10, 10}, init::glorot_uniform());
//     x = matmul(x, w);
//   }
//
// scope.variable(name, shape, init) is get-or-create by path (TF1's
// variable_scope): it returns the live variable at that path, after checking
// shape and dtype, and creates it otherwise. Calling model code again, in a
// retrace or at the next RNN time step, never makes a second variable. The
// Reuse mode, inherited by child scopes, makes it strict:
//   Reuse::kCreate     the path must be new        (else ValueError)
//   Reuse::kReuse      the path must exist         (else NotFoundError)
//   Reuse::kAutoReuse  get-or-create (the default)
// Errors name the full path, both shapes or dtypes, where the variable was
// created and where it was asked for again, and end with a "help:" line.
//
// Every create and retire moves the store's structure epoch; anything that
// caches structure (a compiled function, an optimizer) compares epochs.
//
// Thread-safe: concurrent get-or-create of one path yields one variable.
// A store must outlive the scopes made from it; variables may outlive it (they
// then behave as retired).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "graft/vars/initializers.h"
#include "graft/vars/variable.h"

namespace graft {

// How scope.variable() treats an existing path (header comment).
enum class Reuse { kCreate, kReuse, kAutoReuse };

// What the creation audit saw at one site (file:line + name). A creation is
// a re-creation when the variable made before it at the same site had
// already been dropped; a site that keeps its variables (a growing model,
// one scratch variable among kept ones) does not re-create. The report is
// built when audit_reports() is called, so the count is current.
struct AuditReport {
  std::string site;  // "model.cc:42"
  std::string name;  // the requested name, "weights"
  int recreations = 0;  // re-creations at the site so far
  std::string message;  // the warning's text, with a help: line
};

// The creation audit's settings (VariableStore::set_audit_options).
class AuditOptions {
 public:
  // Report a site once it has re-created a dropped variable this many times.
  AuditOptions& threshold(int n) { threshold_ = n; return *this; }
  // Throw ValueError from the creating call instead of warning.
  AuditOptions& strict(bool on) { strict_ = on; return *this; }
  // Send each new report to graft::warn (graft/base/warning.h); reports are
  // always kept in audit_reports().
  AuditOptions& print_warnings(bool on) { print_warnings_ = on; return *this; }

  // The values set above, or their defaults (2, off, on).
  int threshold() const { return threshold_; }
  bool strict() const { return strict_; }
  bool print_warnings() const { return print_warnings_; }

 private:
  int threshold_ = 2;
  bool strict_ = false;
  bool print_warnings_ = true;
};

class Scope;

// Reads a store's name and structure epoch; safe to keep after the store is
// gone (alive() turns false). Compiled functions hold one per store they read.
class StoreWatch {
 public:
  // The store's structure epoch (its last value once the store is gone).
  uint64_t epoch() const;
  // Whether the store still exists.
  bool alive() const;
  // The store's name.
  const std::string& name() const;
  // Whether both watch the same store.
  bool operator==(const StoreWatch& other) const { return state_ == other.state_; }

 private:
  friend class VariableStore;
  std::shared_ptr<const struct VariableStoreState> state_;
};

// Where variables live and are found by path (header comment).
class VariableStore {
 public:
  // `name` is the first path component of every variable ("" for none);
  // `seed` feeds every initializer, mixed with each variable's path.
  explicit VariableStore(std::string name = "", uint64_t seed = 0);
  ~VariableStore();
  VariableStore(const VariableStore&) = delete;
  VariableStore& operator=(const VariableStore&) = delete;

  // The name and seed given to the constructor.
  const std::string& name() const;
  uint64_t seed() const;
  // The scope at the store's root, in Reuse::kAutoReuse mode.
  Scope root();

  // Live variables in creation order.
  std::vector<Variable> variables() const;
  std::vector<Variable> trainable_variables() const;
  std::optional<Variable> find(std::string_view path) const;
  size_t size() const;
  // Moves on every create, retire, drop of an unkeyed variable and change of
  // a trainable flag.
  uint64_t epoch() const;
  StoreWatch watch() const;

  // Takes `v` out of every listing and moves the epoch; later use of `v`
  // throws, quoting `reason` and where retire was called.
  void retire(const Variable& v, std::string_view reason,
              std::source_location location = std::source_location::current());

  // Moves the epoch for a structural change that creates or retires no
  // variable (a layer without variables added, modules re-wired), so
  // compiled functions recapture.
  void touch();

  // Creation listeners: each is called after every variable created in this
  // store (keyed or unkeyed), in the order they were added, on the creating
  // thread, outside the store's lock, before the creating call returns; it
  // may assign the variable. An exception from a listener propagates out of
  // the creating call (the variable stays created; later listeners are not
  // called for it). Any number may be added; each keeps its place until
  // removed by its id, so one user never replaces another's. The checkpoint
  // layer adds one to restore a variable the moment a lazily built module
  // creates it (graft/io/checkpoint.h).
  using CreateListener = std::function<void(const Variable&)>;
  // Names one listener, for remove_create_listener.
  struct ListenerId {
    uint64_t value = 0;  // 0: none
  };
  // Adds `listener`; returns its id.
  ListenerId add_create_listener(CreateListener listener);
  // Removes the listener `id` names; false when it is not (or no longer) there.
  bool remove_create_listener(ListenerId id);

  // Per-store state of a higher layer, one object per type T, created by
  // `make` on first use and destroyed with the store (the checkpoint layer
  // keeps its deferred restores here). Thread-safe.
  template <typename T, typename Make>
  std::shared_ptr<T> attachment(Make make) {
    return std::static_pointer_cast<T>(attachment_of(typeid(T), [&] { return std::shared_ptr<void>(make()); }));
  }
  // The attachment of type T, or nullptr; `detach` removes it.
  template <typename T>
  std::shared_ptr<T> find_attachment() const {
    return std::static_pointer_cast<T>(find_attachment_of(typeid(T)));
  }
  // Removes the attachment of type T, if any.
  template <typename T>
  void detach() {
    detach_of(typeid(T));
  }

  // The creation audit's settings, and its reports so far (one per reported
  // site, counts current).
  void set_audit_options(const AuditOptions& options);
  std::vector<AuditReport> audit_reports() const;

  // The store unkeyed variables go to when no VariableScope is active.
  static VariableStore& default_store();

  using State = VariableStoreState;  // internal

 private:
  friend class Scope;
  friend class Variable;
  std::shared_ptr<void> attachment_of(const std::type_info& type, const std::function<std::shared_ptr<void>()>& make);
  std::shared_ptr<void> find_attachment_of(const std::type_info& type) const;
  void detach_of(const std::type_info& type);
  std::shared_ptr<State> state_;
};

// A path in a store, with a reuse mode: where variables are made and found
// (header comment).
class Scope {
 public:
  // The scope at `path` in `store`. Throws ValueError unless `path` is the
  // store's name or lies under it ("mlp", "mlp/layer_0" in store "mlp"; any
  // path, or "" for the root, in an unnamed store) and every component is a
  // valid name (check_variable_name): no "s//double", "/lead", "a/./b".
  Scope(VariableStore& store, std::string path, Reuse reuse);

  // The scope's path, reuse mode and store.
  const std::string& path() const { return path_; }
  Reuse reuse() const { return reuse_; }
  VariableStore& store() const { return *store_; }

  // A nested scope; it inherits this scope's reuse mode unless given one.
  // Throws ValueError for an invalid name (check_variable_name).
  Scope child(std::string_view name) const;
  Scope child(std::string_view name, Reuse reuse) const;

  // Get-or-create by path, as the reuse mode says (header comment).
  Variable variable(std::string_view name, const Shape& shape, const Initializer& init = init::zeros(),
                    const VariableOptions& options = {},
                    std::source_location location = std::source_location::current()) const;

  // The full path of `name` under this scope.
  std::string path_of(std::string_view name) const;

 private:
  friend class VariableStore;
  struct Checked {};  // the path is known to be valid
  Scope(VariableStore& store, std::string path, Reuse reuse, Checked);

  VariableStore* store_;
  std::string path_;
  Reuse reuse_;
};

// RAII: makes a child of the current scope current on this thread while
// alive, as TF1's `with tf.variable_scope(name):`.
//   { VariableScope s("layer_1"); Variable w(t, "weights"); }  // layer_1/weights
class VariableScope {
 public:
  // Makes current_scope().child(name) (with `reuse`, or the parent's mode)
  // current. Throws ValueError for an invalid name.
  explicit VariableScope(std::string_view name);
  VariableScope(std::string_view name, Reuse reuse);
  // Makes `scope` itself current.
  explicit VariableScope(const Scope& scope);
  ~VariableScope();
  VariableScope(const VariableScope&) = delete;
  VariableScope& operator=(const VariableScope&) = delete;

  // The scope this object made current.
  const Scope& scope() const;
};

// The innermost VariableScope on this thread, or the default store's root.
Scope current_scope();

// TF1's tf.get_variable: get-or-create `name` under the current scope.
Variable get_variable(std::string_view name, const Shape& shape, const Initializer& init = init::zeros(),
                      const VariableOptions& options = {},
                      std::source_location location = std::source_location::current());

// The grammar of names (TensorFlow's, per component): a path component is
// [A-Za-z0-9.][A-Za-z0-9_.-]*, except "." and "..". Store names, scope and
// module names, variable names and every component of a path given to
// Scope's constructor must match it, so a path never holds whitespace,
// control characters or folder-like parts ("s/..", "s/a b").
//
// Throws ValueError unless `name` is one valid component; the message starts
// with `what` and names the offending character (escaped when unprintable)
// and its position.
void check_variable_name(std::string_view name, std::string_view what);
// Throws ValueError unless `path` is one or more valid components joined by
// single '/' (no empty component, no '/' at either end).
void check_variable_path(std::string_view path, std::string_view what);

namespace vars::internal {

// Sees every variable read on this thread while registered (graft::function's
// capture uses it to learn which variables a graph reads).
class ReadObserver {
 public:
  virtual ~ReadObserver() = default;
  virtual void on_read(const Variable& v) = 0;
};
ReadObserver* set_read_observer(ReadObserver* observer);

// Takes over Variable::assign on this thread while registered (a capture
// records the assignment instead of running it). Called after the shape and
// dtype checks.
class AssignHook {
 public:
  virtual ~AssignHook() = default;
  virtual void on_assign(const Variable& v, const Tensor& value) = 0;
};
AssignHook* set_assign_hook(AssignHook* hook);

// Sees every variable creation on this thread while registered.
class CreateObserver {
 public:
  virtual ~CreateObserver() = default;
  // `keyed` is false for unkeyed creation (Variable(...)), whose path may end
  // in a uniquified form of `requested_name`.
  virtual void on_create(const Variable& v, bool keyed, std::string_view requested_name,
                         const std::source_location& location) = 0;
};
CreateObserver* set_create_observer(CreateObserver* observer);

}  // namespace vars::internal
}  // namespace graft
