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
#include <vector>

#include "graft/vars/initializers.h"
#include "graft/vars/variable.h"

namespace graft {

enum class Reuse { kCreate, kReuse, kAutoReuse };

// What the creation audit saw at one site (file:line + name).
struct AuditReport {
  std::string site;  // "model.cc:42"
  std::string name;  // the requested name, "weights"
  int recreations = 0;  // variables made there after an earlier one was dropped
  std::string message;
};

struct AuditOptions {
  // Report a site once it has re-created a dropped variable this many times.
  int threshold = 2;
  // Throw instead of warning.
  bool strict = false;
  // Print warnings to stderr (they are always kept in audit_reports()).
  bool print_warnings = true;
};

struct VariableOptions {
  DType dtype_ = DType::kFloat32;
  bool trainable_ = true;
  VariableOptions& dtype(DType d) { dtype_ = d; return *this; }
  VariableOptions& trainable(bool t) { trainable_ = t; return *this; }
};

class Scope;

// Reads a store's name and structure epoch; safe to keep after the store is
// gone (alive() turns false). Compiled functions hold one per store they read.
class StoreWatch {
 public:
  uint64_t epoch() const;
  bool alive() const;
  const std::string& name() const;
  bool operator==(const StoreWatch& other) const { return state_ == other.state_; }

 private:
  friend class VariableStore;
  std::shared_ptr<const struct VariableStoreState> state_;
};

class VariableStore {
 public:
  // `name` is the first path component of every variable ("" for none);
  // `seed` feeds every initializer, mixed with each variable's path.
  explicit VariableStore(std::string name = "", uint64_t seed = 0);
  ~VariableStore();
  VariableStore(const VariableStore&) = delete;
  VariableStore& operator=(const VariableStore&) = delete;

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

  // Called after each variable is created in this store (keyed or unkeyed),
  // on the creating thread, outside the store's lock, before the creating
  // call returns; it may assign the variable. An exception from the hook
  // propagates out of the creating call (the variable stays created). One
  // hook per store; an empty function removes it. The checkpoint layer uses
  // it to restore a variable the moment a lazily built module creates it
  // (graft/io/checkpoint.h).
  using CreateHook = std::function<void(const Variable&)>;
  void set_create_hook(CreateHook hook);

  void set_audit_options(const AuditOptions& options);
  std::vector<AuditReport> audit_reports() const;

  // The store unkeyed variables go to when no VariableScope is active.
  static VariableStore& default_store();

  using State = VariableStoreState;  // internal

 private:
  friend class Scope;
  friend class Variable;
  std::shared_ptr<State> state_;
};

class Scope {
 public:
  Scope(VariableStore& store, std::string path, Reuse reuse);

  const std::string& path() const { return path_; }
  Reuse reuse() const { return reuse_; }
  VariableStore& store() const { return *store_; }

  // A nested scope; it inherits this scope's reuse mode unless given one.
  // Throws ValueError for an empty name or one containing '/'.
  Scope child(std::string_view name) const;
  Scope child(std::string_view name, Reuse reuse) const;

  // Get-or-create by path, as the reuse mode says (header comment).
  Variable variable(std::string_view name, const Shape& shape, const Initializer& init = init::zeros(),
                    const VariableOptions& options = {},
                    std::source_location location = std::source_location::current()) const;

  // The full path of `name` under this scope.
  std::string path_of(std::string_view name) const;

 private:
  VariableStore* store_;
  std::string path_;
  Reuse reuse_;
};

// RAII: makes a child of the current scope current on this thread while
// alive, as TF1's `with tf.variable_scope(name):`.
//   { VariableScope s("layer_1"); Variable w(t, "weights"); }  // layer_1/weights
class VariableScope {
 public:
  explicit VariableScope(std::string_view name);
  VariableScope(std::string_view name, Reuse reuse);
  // Makes `scope` itself current.
  explicit VariableScope(const Scope& scope);
  ~VariableScope();
  VariableScope(const VariableScope&) = delete;
  VariableScope& operator=(const VariableScope&) = delete;

  const Scope& scope() const;
};

// The innermost VariableScope on this thread, or the default store's root.
Scope current_scope();

// TF1's tf.get_variable: get-or-create `name` under the current scope.
Variable get_variable(std::string_view name, const Shape& shape, const Initializer& init = init::zeros(),
                      const VariableOptions& options = {},
                      std::source_location location = std::source_location::current());

// Throws ValueError unless `name` is a valid path component (non-empty, no '/').
void check_variable_name(std::string_view name, std::string_view what);

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
