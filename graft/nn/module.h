// graft/nn/module.h: the base of every layer and model.
//
//   class Mlp : public nn::Module {
//    public:
//     Mlp() : Module("mlp") {
//       hidden_ = register_module("hidden", nn::Linear(nn::LinearOptions(64).activation(nn::Activation::kRelu)));
//       out_ = register_module("out", nn::Linear(nn::LinearOptions(10)));
//     }
//     Tensor forward(const Tensor& x) override { ensure_built(x); return (*out_)((*hidden_)(x)); }
//    private:
//     std::shared_ptr<nn::Linear> hidden_, out_;
//   };
//   Mlp model;
//   Tensor y = model(x);                      // first call builds: mlp/hidden/kernel [784, 64], ...
//   auto vars = model.trainable_variables();  // what the optimizer updates
//
// A module owns a scope, whose path is its identity: a root module's path is
// its name, in a VariableStore of its own (named after it, created on first
// use; set_seed() seeds it, use_store() puts the module into another store
// instead, under store-name/module-name); a child registered into a parent
// lives in the parent's store at parent-path/child-name. Variables are created
// by path (scope.variable, get-or-create) when the module builds, lazily, on
// its first forward call, from the shape and dtype of that first input: no
// in_features is needed, and the order in which children are registered or
// built never changes a path.
//
// A module's variables are the live variables of its store under its path:
// its own first (creation order), then each child's in child order.
// Retirement (Sequential::remove) takes variables out of every listing.
//
// Variables are attributed to where the layer was defined: its constructor
// call, or the register_module / Sequential::add / insert call that placed it.
//
// Children are held by shared_ptr; a parent outlives its registration of a
// child. Not thread-safe: a module is used from one thread at a time.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "graft/vars/mode.h"
#include "graft/vars/store.h"

namespace graft::nn {

// The base of every layer and model (header comment): a scope, variables by
// path, children, training mode.
class Module {
 public:
  // A module named `name` (a path component; ValueError otherwise), defined
  // at `location`.
  explicit Module(std::string name, std::source_location location = std::source_location::current());
  virtual ~Module();
  // Moving is for placing a fresh module (not yet registered) into a parent:
  // children follow it. Copying would duplicate identity, so it is deleted.
  Module(Module&& other) noexcept;
  Module& operator=(Module&&) = delete;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. Layers build themselves on the first call.
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }

  // The name within the parent (or the root name), and the full scope path.
  const std::string& name() const { return name_; }
  std::string path() const;
  // "Linear(10, relu)": the kind of layer and its options, for summaries.
  virtual std::string describe() const;

  // The store this module's variables live in (a root creates its own on
  // first use) and its structure epoch, for compiled functions and
  // optimizers that cache structure.
  VariableStore& store();
  uint64_t epoch() { return store().epoch(); }
  // The module's scope (Reuse::kAutoReuse).
  Scope scope();
  // Seeds the store a root creates; ValueError once that store exists or for
  // a registered child (it uses its parent's store).
  void set_seed(uint64_t seed);
  // Puts a root module into `store` (path store-name/module-name) instead of
  // a store of its own. ValueError once the module has a store.
  void use_store(VariableStore& store);

  // The module's live variables, own first then each child's, in a fixed
  // order (see the header comment). named_variables() gives each with its
  // path relative to this module ("layer_0/kernel").
  std::vector<Variable> variables() const;
  std::vector<Variable> trainable_variables() const;
  std::vector<std::pair<std::string, Variable>> named_variables() const;
  int64_t parameter_count() const;

  // Frozen modules' variables are not trainable: they leave
  // trainable_variables() and tapes do not watch them. Applies to this
  // module and every child, including variables built and children
  // registered later. Moves the store's epoch when a flag changes.
  void freeze();
  void unfreeze();
  bool frozen() const { return frozen_; }

  // Training mode (the default) or inference mode (Dropout passes through,
  // BatchNorm uses its running statistics), for this module and every child.
  // A graft::function keys its graphs on the mode of every module whose
  // forward asked for it (graft/vars/mode.h): each mode is captured once and
  // switching replays the matching graph.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const {
    return vars::read_mode(training_, [this] { return path(); });
  }

  // True once this module and every child have built.
  bool built() const;
  // Builds now, by running forward on zeros of `input_shape` in evaluation
  // mode (to create the variables before a checkpoint restore or an
  // optimizer needs them, without updating running statistics).
  void build(const Shape& input_shape, DType dtype = DType::kFloat32);

  // Registers `module` as the child `name` (ValueError for a taken or
  // invalid name, or for a module that already has a parent or variables of
  // its own). Returns the child.
  template <std::derived_from<Module> M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module,
                                     std::source_location location = std::source_location::current()) {
    insert_child(children_.size(), std::move(name), module, location);
    return module;
  }
  template <std::derived_from<Module> M>
  std::shared_ptr<M> register_module(std::string name, M module,
                                     std::source_location location = std::source_location::current()) {
    return register_module(std::move(name), std::make_shared<M>(std::move(module)), location);
  }

  // Children in order, and one by name (nullptr when absent).
  const std::vector<std::shared_ptr<Module>>& children() const { return children_; }
  std::shared_ptr<Module> child(std::string_view name) const;
  Module* parent() const { return parent_; }

  // A table of every module and variable under this one: path, kind or
  // shape, parameter count, trainable, where each variable was created; and
  // the totals.
  std::string summary() const;

 protected:
  // Builds once: runs on_build(input_shape, dtype) under this module's scope
  // (VariableScope) the first time, then marks the module built. Every
  // forward should start with it.
  void ensure_built(const Shape& input_shape, DType dtype);
  void ensure_built(const Tensor& input) { ensure_built(input.shape(), input.dtype()); }
  // Throws DTypeError naming this layer (`kind` and path), both dtypes and
  // the fix when `input` (called `what` in the message) is not of
  // `built_dtype`, the dtype the layer's variables were built with: a
  // float64 batch for a float32 layer fails here, not deep inside matmul.
  void check_input_dtype(std::string_view kind, const Tensor& input, DType built_dtype,
                         std::string_view what = "input") const;
  // Creates this module's variables; input_shape and dtype are the first
  // input's. The default creates nothing.
  virtual void on_build(const Shape& input_shape, DType dtype);

  // Get-or-create `name` under this module's scope, attributed to where the
  // module was defined, not trainable when the module is frozen.
  Variable add_variable(std::string_view name, const Shape& shape, const Initializer& init,
                        VariableOptions options = {});

  // For containers: places `module` at `index` among the children.
  void insert_child(size_t index, std::string name, std::shared_ptr<Module> module,
                    const std::source_location& location);
  // Retires the child's variables (VariableStore::retire with `reason`),
  // detaches it and moves the store's epoch.
  void remove_child(size_t index, std::string_view reason, const std::source_location& location);

  // Where the module was defined (its variables' creation site).
  const std::source_location& defined_at() const { return defined_at_; }

 private:
  VariableStore* existing_store() const;
  // Of `all`, those under this module's path and under no child's.
  std::vector<Variable> own_variables(const std::vector<Variable>& all) const;
  void collect(const std::vector<Variable>& all, std::vector<Variable>& out) const;
  void set_frozen(bool frozen, const std::vector<Variable>& all);
  void summary_rows(const std::vector<Variable>& all, std::vector<std::vector<std::string>>& rows) const;

  std::string name_;
  std::source_location defined_at_;
  Module* parent_ = nullptr;
  std::vector<std::shared_ptr<Module>> children_;
  std::unique_ptr<VariableStore> own_store_;
  VariableStore* external_store_ = nullptr;
  uint64_t seed_ = 0;
  bool built_ = false;
  bool frozen_ = false;
  std::shared_ptr<vars::ModeFlag> training_ = std::make_shared<vars::ModeFlag>(true);
  // Names of own variables created not trainable on purpose: unfreeze()
  // leaves them so.
  std::unordered_set<std::string> non_trainable_;
  // Why and where the module was removed from its parent; "" while in use.
  std::string removed_;
};

}  // namespace graft::nn
