#include "graft/nn/module.h"

#include <algorithm>

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::nn {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Module::Module(std::string name, std::source_location location) : name_(std::move(name)), defined_at_(location) {
  check_variable_name(name_, "Module");
}

Module::~Module() {
  for (const auto& c : children_) c->parent_ = nullptr;
}

Module::Module(Module&& other) noexcept
    : name_(std::move(other.name_)),
      defined_at_(other.defined_at_),
      children_(std::move(other.children_)),
      own_store_(std::move(other.own_store_)),
      external_store_(other.external_store_),
      seed_(other.seed_),
      built_(other.built_),
      frozen_(other.frozen_),
      training_(std::move(other.training_)),
      non_trainable_(std::move(other.non_trainable_)),
      removed_(std::move(other.removed_)) {
  for (const auto& c : children_) c->parent_ = this;
}

std::string Module::path() const {
  if (parent_ != nullptr) return parent_->path() + "/" + name_;
  if (external_store_ != nullptr) return external_store_->root().path_of(name_);
  return name_;
}

std::string Module::describe() const { return "Module"; }

VariableStore* Module::existing_store() const {
  if (parent_ != nullptr) return parent_->existing_store();
  if (external_store_ != nullptr) return external_store_;
  return own_store_.get();
}

VariableStore& Module::store() {
  if (parent_ != nullptr) return parent_->store();
  if (external_store_ != nullptr) return *external_store_;
  if (own_store_ == nullptr) own_store_ = std::make_unique<VariableStore>(name_, seed_);
  return *own_store_;
}

Scope Module::scope() { return Scope(store(), path(), Reuse::kAutoReuse); }

void Module::set_seed(uint64_t seed) {
  GRAFT_CHECK(parent_ == nullptr, "set_seed on module '", path(),
              "': a registered module uses its parent's store\n  help: seed the root module");
  GRAFT_CHECK(own_store_ == nullptr && external_store_ == nullptr, "set_seed on module '", path(),
              "': its store already exists\n  help: call set_seed before the first forward call");
  seed_ = seed;
}

void Module::use_store(VariableStore& store) {
  GRAFT_CHECK(parent_ == nullptr, "use_store on module '", path(), "': a registered module uses its parent's store");
  GRAFT_CHECK(own_store_ == nullptr && external_store_ == nullptr, "use_store on module '", path(),
              "': it already has a store\n  help: call use_store before the first forward call");
  external_store_ = &store;
}

// --- Variables -------------------------------------------------------------

std::vector<Variable> Module::own_variables(const std::vector<Variable>& all) const {
  const std::string prefix = path() + "/";
  std::vector<Variable> out;
  for (const Variable& v : all) {
    const std::string& p = v.path();
    if (!starts_with(p, prefix)) continue;
    bool in_child = std::any_of(children_.begin(), children_.end(), [&](const auto& c) {
      return p.compare(prefix.size(), c->name_.size() + 1, c->name_ + "/") == 0;
    });
    if (!in_child) out.push_back(v);
  }
  return out;
}

void Module::collect(const std::vector<Variable>& all, std::vector<Variable>& out) const {
  for (Variable& v : own_variables(all)) out.push_back(std::move(v));
  for (const auto& c : children_) c->collect(all, out);
}

std::vector<Variable> Module::variables() const {
  std::vector<Variable> out;
  VariableStore* s = existing_store();
  if (s != nullptr) collect(s->variables(), out);
  return out;
}

std::vector<Variable> Module::trainable_variables() const {
  std::vector<Variable> out;
  for (Variable& v : variables()) {
    if (v.trainable()) out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::pair<std::string, Variable>> Module::named_variables() const {
  const size_t skip = path().size() + 1;
  std::vector<std::pair<std::string, Variable>> out;
  for (Variable& v : variables()) out.emplace_back(v.path().substr(skip), std::move(v));
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Variable& v : variables()) n += v.shape().numel();
  return n;
}

Variable Module::add_variable(std::string_view name, const Shape& shape, const Initializer& init,
                              VariableOptions options) {
  if (!options.trainable()) non_trainable_.insert(std::string(name));
  options.trainable(options.trainable() && !frozen_);
  return scope().variable(name, shape, init, options, defined_at_);
}

// --- Freezing and modes ------------------------------------------------------

void Module::set_frozen(bool frozen, const std::vector<Variable>& all) {
  frozen_ = frozen;
  for (Variable& v : own_variables(all)) {
    bool trainable = !frozen && non_trainable_.count(std::string(v.name())) == 0;
    v.set_trainable(trainable);  // moves the epoch only when the flag changes
  }
  for (const auto& c : children_) c->set_frozen(frozen, all);
}

void Module::freeze() {
  VariableStore* s = existing_store();
  set_frozen(true, s != nullptr ? s->variables() : std::vector<Variable>{});
}

void Module::unfreeze() {
  VariableStore* s = existing_store();
  set_frozen(false, s != nullptr ? s->variables() : std::vector<Variable>{});
}

void Module::train(bool on) {
  training_->value = on;
  for (const auto& c : children_) c->train(on);
}

// --- Building ----------------------------------------------------------------

bool Module::built() const {
  return built_ && std::all_of(children_.begin(), children_.end(), [](const auto& c) { return c->built(); });
}

void Module::build(const Shape& input_shape, DType dtype) {
  if (built()) return;
  // In evaluation mode, so building has no side effects (no running
  // statistics updated from zeros, no dropout mask drawn); each module's own
  // mode comes back afterwards.
  std::vector<std::pair<Module*, bool>> modes;
  auto save = [&](auto& self, Module& m) -> void {
    modes.emplace_back(&m, m.training_->value);
    m.training_->value = false;
    for (const auto& c : m.children_) self(self, *c);
  };
  save(save, *this);
  struct Restore {
    std::vector<std::pair<Module*, bool>>& modes;
    ~Restore() {
      for (auto& [m, on] : modes) m->training_->value = on;
    }
  } restore{modes};
  forward(zeros(input_shape, dtype));
}

void Module::ensure_built(const Shape& input_shape, DType dtype) {
  if (built_ && removed_.empty()) return;
  GRAFT_CHECK(removed_.empty(), "cannot run module '", name_, "': it was ", removed_,
              "\n  help: a removed layer stays out of the model; add a new layer instead");
  VariableScope scope_guard(scope());
  on_build(input_shape, dtype);
  built_ = true;
}

void Module::on_build(const Shape&, DType) {}

void Module::check_input_dtype(std::string_view kind, const Tensor& input, DType built_dtype,
                               std::string_view what) const {
  GRAFT_CHECK_AS(DTypeError, input.dtype() == built_dtype, kind, " '", path(), "' was built for ",
                 dtype_name(built_dtype), " inputs (its variables are ", dtype_name(built_dtype), "), received a ",
                 dtype_name(input.dtype()), " ", what, "\n  help: cast the ", what, " first (cast(x, DType::k",
                 built_dtype == DType::kFloat64 ? "Float64" : "Float32",
                 ")), or use another layer for ", dtype_name(input.dtype()), " inputs");
}

// --- Children ----------------------------------------------------------------

std::shared_ptr<Module> Module::child(std::string_view name) const {
  for (const auto& c : children_) {
    if (c->name_ == name) return c;
  }
  return nullptr;
}

void Module::insert_child(size_t index, std::string name, std::shared_ptr<Module> module,
                          const std::source_location& location) {
  check_variable_name(name, "register_module");
  GRAFT_CHECK(module != nullptr, "register_module('", name, "') in '", path(), "': the module is null");
  GRAFT_CHECK(child(name) == nullptr, "module '", path(), "' already has a child named '", name,
              "'\n  help: give each child its own name");
  GRAFT_CHECK(module->parent_ == nullptr, "cannot register module '", module->path(), "' as '", path(), "/", name,
              "': it already has a parent\n  help: a module lives at one path; create another for a second place");
  GRAFT_CHECK(module->removed_.empty(), "cannot register module '", module->name_, "' as '", path(), "/", name,
              "': it was ", module->removed_, "\n  help: a removed layer stays out of the model; add a new layer");
  GRAFT_CHECK(module->external_store_ == nullptr && (module->own_store_ == nullptr || module->own_store_->size() == 0),
              "cannot register module '", module->path(), "' as '", path(), "/", name,
              "': it already has variables in a store of its own (it was called before it was registered)"
              "\n  help: register or add layers before calling them");
  for (const Module* m = this; m != nullptr; m = m->parent_) {
    GRAFT_CHECK(m != module.get(), "cannot register module '", module->path(), "' inside itself");
  }
  GRAFT_CHECK(index <= children_.size(), "child position ", index, " is out of range for module '", path(),
              "' with ", children_.size(), " children");
  module->own_store_.reset();
  module->name_ = std::move(name);
  module->defined_at_ = location;
  module->parent_ = this;
  if (frozen_) module->set_frozen(true, {});
  module->train(training_->value);
  children_.insert(children_.begin() + static_cast<std::ptrdiff_t>(index), std::move(module));
  // The computation changed even when no variable did: compiled functions
  // must recapture.
  if (VariableStore* s = existing_store()) s->touch();
}

void Module::remove_child(size_t index, std::string_view reason, const std::source_location& location) {
  GRAFT_CHECK(index < children_.size(), "cannot remove child ", index, " of module '", path(), "': it has ",
              children_.size(), " children");
  std::shared_ptr<Module> removed = children_[index];
  const std::string removed_path = removed->path();
  for (const Variable& v : removed->variables()) store().retire(v, reason, location);
  children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
  removed->parent_ = nullptr;
  removed->removed_ = graft::base::internal::str("removed from the model as '", removed_path, "' by ", reason, " at ",
                                    graft::base::internal::format_location(location));
  store().touch();
}

}  // namespace graft::nn
